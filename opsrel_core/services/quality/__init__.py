"""Data quality."""
from opsrel_core.domain.rule_versions import HASH_PREFIX, canonical_json, rule_version_hash
from opsrel_core.services.quality.check_recording import CheckRecorder, Outcome, RuleSpec
from opsrel_core.services.quality.staging import stage_rule
from opsrel_core.services.quality.validation import ValidationService
from opsrel_core.services.quality.validation_views import RuleVersionView, ValidationResultView
