"""Django's PostgreSQL backend, whose connection pool checks a connection with
``core.configuration.check_connection``: the same round trip as psycopg_pool's own check, which
also reads the configuration generation.  (Django hands the pool psycopg_pool's check, or none,
and takes no other: ``OPTIONS["pool"]`` cannot name one.)  ``config/settings.py`` selects it
for a PostgreSQL ``DATABASE_URL``; everything else is Django's."""

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base

from core import configuration


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        options = self.settings_dict["OPTIONS"].get("pool")
        if not options or self.alias in (NO_DB_ALIAS, *self._connection_pools):
            return super().pool
        if self.settings_dict.get("CONN_HEALTH_CHECKS"):
            raise ImproperlyConfigured("The pool checks its connections itself "
                                       "(core.configuration): leave CONN_HEALTH_CHECKS off.")
        if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
            raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
        from psycopg_pool import ConnectionPool

        # As Django builds its pool (``base.DatabaseWrapper.pool``), with the check.
        connect_kwargs = self.get_connection_params()
        connect_kwargs["autocommit"] = True
        pool = ConnectionPool(kwargs=connect_kwargs, open=False,
                              configure=self._configure_connection,
                              check=configuration.check_connection,
                              **({} if options is True else options))
        self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]
