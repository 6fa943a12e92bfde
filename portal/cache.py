"""Django's Redis cache backend, its client object made once per connection pool.

Django's RedisCacheClient.get_client() builds a new redis.Redis on every cache call (the pool is
shared, but each Redis() fills its table of about 170 response callbacks afresh). A page makes
one to five cache calls (its session, fragments, the dashboard panel), so this was about
0.1-0.3 ms of every request. A redis.Redis over a pool is safe to share between threads.
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client


class PortalRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient
