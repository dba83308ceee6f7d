"""In-memory fakes of the repositories, for the fast unit tier of the domain and services."""
