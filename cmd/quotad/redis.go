package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// parseRedisURL reads REDIS_URL: redis://host:port/db (rediss:// for TLS)
// for one server, or redis-cluster://host:port?addr=host2:port2&addr=…
// (rediss-cluster:// for TLS) for a Redis Cluster, whose first node and
// addr parameters seed the cluster's topology.
func parseRedisURL(u string) (redis.UniversalClient, error) {
	for _, scheme := range []string{"redis-cluster://", "rediss-cluster://"} {
		if rest, ok := strings.CutPrefix(u, scheme); ok {
			if host, _, _ := strings.Cut(strings.SplitN(rest, "?", 2)[0], "/"); host == "" {
				return nil, fmt.Errorf("cluster URL %q names no node (want %shost:port?addr=host2:port2…)", u, scheme)
			}
			opt, err := redis.ParseClusterURL(strings.TrimSuffix(scheme, "-cluster://") + "://" + rest)
			if err != nil {
				return nil, fmt.Errorf("bad cluster URL: %w", err)
			}
			for _, a := range opt.Addrs {
				if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
					return nil, fmt.Errorf("bad cluster node address %q (want host:port)", a)
				}
			}
			// A retried script whose reply was lost would count twice;
			// context deadlines bound every decision.
			opt.MaxRetries, opt.ContextTimeoutEnabled = -1, true
			return redis.NewClusterClient(opt), nil
		}
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		return nil, fmt.Errorf("bad URL (want redis://host:port/db or redis-cluster://host:port?addr=…): %w", err)
	}
	opt.MaxRetries, opt.ContextTimeoutEnabled = -1, true
	return redis.NewClient(opt), nil
}

// setRedisLogger guards go-redis's process-wide logger, which it reads
// without synchronisation: it is set once, by the first serve.
var setRedisLogger sync.Once

// redisLog routes go-redis's own messages (failed dials, pool events) into
// quotad's structured log instead of plain lines on stderr. The limiter's
// circuit breaker keeps them to about one a second while Redis is down.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
