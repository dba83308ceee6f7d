"""The console shows an hourly job's partition report: ``/console/reports/KEY?job=JOB`` and
the partition page's link to it, both backends."""

import urllib.parse

from opsrel_core.domain import console_links
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.quality import DqReportService
from tests.support.hourly_reports import HOURLY_JOB, REPEATED_ONE, HourlyWorld


def test_an_hourly_partition_has_its_report_page(console_site):
    engine = make_engine(console_site.database_url)
    try:
        world = HourlyWorld(engine)
        world.hour("w-1", REPEATED_ONE, {"temperature_plausible": ("FAIL", 2),
                                         "humidity_plausible": ("PASS", 0)})
        DqReportService(engine).build_partition_report(HOURLY_JOB, REPEATED_ONE)
    finally:
        engine.dispose()
    viewer = console_site.signed_in("viewer")
    quoted = urllib.parse.quote(REPEATED_ONE, safe="")
    page = viewer.get(f"/console/reports/{quoted}?job={HOURLY_JOB}")
    assert page.status_code == 200
    assert 'id="outcome">FAIL<' in page.text and 'data-rule="temperature_plausible"' in page.text
    assert viewer.get(f"/console/reports/{quoted}").status_code == 422  # no job: a day is asked
    assert viewer.get(f"/console/reports/{quoted}?job=no_such_job").status_code == 404
    partition = viewer.get(console_links.partition_path(HOURLY_JOB, REPEATED_ONE))
    assert partition.status_code == 200
    assert f'href="/console/reports/{quoted}?job={HOURLY_JOB}" id="report-link"' in partition.text
