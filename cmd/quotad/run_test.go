package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/internal/testenv"
)

const testSecret = "test-secret-of-at-least-32-bytes!!"

// env returns a getenv over vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startQuotad runs quotad in the background until the test ends, waits for
// /healthz, and returns its base URL, its log and the channel run's error
// arrives on.
func startQuotad(tb testing.TB, vars map[string]string) (string, *testenv.Buffer, context.CancelFunc, chan error) {
	tb.Helper()
	addr := freeAddr(tb)
	vars["QUOTA_ADDR"] = addr
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testenv.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"quotad"}, env(vars), logs, logs) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			tb.Error("quotad did not stop within 20s")
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, logs, cancel, done
			}
		}
		select {
		case err := <-done:
			tb.Fatalf("quotad exited before answering: %v\n%s", err, logs)
		case <-time.After(20 * time.Millisecond): // poll: /healthz is the readiness signal
		}
		if time.Now().After(deadline) {
			tb.Fatalf("quotad not healthy within 30s:\n%s", logs)
		}
	}
}

func baseVars(tb testing.TB) map[string]string {
	testenv.Redis(tb) // fails fast, with a hint, if Redis is not there
	return map[string]string{
		"DATABASE_URL":     testenv.Database(tb),
		"REDIS_URL":        testenv.RedisURL(),
		"QUOTA_JWT_SECRET": testSecret,
	}
}

// TestRun_ServesMigratesAndStopsCleanly: two instances started at once on
// a fresh database both come up, serve the seed tiers, and stop on
// cancellation with a nil error.
func TestRun_ServesMigratesAndStopsCleanly(t *testing.T) {
	t.Parallel()
	vars := baseVars(t)
	vars2 := map[string]string{}
	for k, v := range vars {
		vars2[k] = v
	}
	var wg sync.WaitGroup
	urls := make([]string, 2)
	cancels := make([]context.CancelFunc, 2)
	dones := make([]chan error, 2)
	for i, v := range []map[string]string{vars, vars2} {
		wg.Go(func() { urls[i], _, cancels[i], dones[i] = startQuotad(t, v) })
	}
	wg.Wait()
	if err := run(context.Background(), []string{"quotad", "healthcheck"}, env(map[string]string{"QUOTA_ADDR": strings.TrimPrefix(urls[0], "http://")}), io.Discard, io.Discard); err != nil {
		t.Fatalf("healthcheck of a running quotad: %v", err)
	}
	for _, u := range urls {
		resp, err := http.Get(u + "/v1/tiers")
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Tiers []api.TierView }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || len(body.Tiers) != 2 {
			t.Fatalf("/v1/tiers: %+v, %v; want the two seed tiers", body, err)
		}
	}
	for i := range cancels {
		cancels[i]()
		if err := <-dones[i]; err != nil {
			t.Fatalf("instance %d stopped with %v", i, err)
		}
		dones[i] <- nil // for the cleanup's wait
	}
}

// TestRun_ShutdownDrainsInFlight: a request whose handler is running when
// the signal arrives completes with 200, and run returns nil.
func TestRun_ShutdownDrainsInFlight(t *testing.T) {
	t.Parallel()
	base, logs, cancel, done := startQuotad(t, baseVars(t))
	// Expect: 100-continue gives a real signal: the server answers 100 when
	// the handler starts reading the body, and the body is held back until
	// after shutdown has begun.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, base+"/v1/admin/clients/slow", pr)
	tok, _ := api.MintToken([]byte(testSecret), api.TokenClaims{Subject: "root", Admin: true, TTL: time.Minute})
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	inHandler := make(chan struct{})
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got100Continue: func() { close(inHandler) },
	}))
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute, DisableKeepAlives: true}}
	result := make(chan int, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			t.Logf("in-flight request: %v", err)
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	select {
	case <-inHandler:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never started reading the body")
	}
	cancel()
	waitLog(t, logs, "draining in-flight requests")
	if _, err := pw.Write([]byte(`{"tier":"free"}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-result; code != http.StatusOK {
		t.Fatalf("in-flight request: status %d, want 200\n%s", code, logs)
	}
	if err := <-done; err != nil {
		t.Fatalf("run returned %v", err)
	}
	done <- nil
}

func waitLog(tb testing.TB, logs *testenv.Buffer, s string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), s) {
		if time.Now().After(deadline) {
			tb.Fatalf("log never said %q:\n%s", s, logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRun_BadConfigFailsFastNamingTheSetting: each bad setting stops quotad
// before it starts, with one line naming the setting.
func TestRun_BadConfigFailsFastNamingTheSetting(t *testing.T) {
	t.Parallel()
	good := map[string]string{"QUOTA_JWT_SECRET": testSecret}
	for name, tc := range map[string]struct {
		set  map[string]string
		want string
	}{
		"no secret":           {map[string]string{"QUOTA_JWT_SECRET": ""}, "QUOTA_JWT_SECRET"},
		"short secret":        {map[string]string{"QUOTA_JWT_SECRET": "short"}, "QUOTA_JWT_SECRET"},
		"bad jwks url":        {map[string]string{"QUOTA_JWT_JWKS_URL": "ftp://x"}, "QUOTA_JWT_JWKS_URL"},
		"bad database url":    {map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL"},
		"bad redis url":       {map[string]string{"REDIS_URL": "http://x"}, "REDIS_URL"},
		"bad proxies":         {map[string]string{"QUOTA_TRUSTED_PROXIES": "10.0.0.0/8, nonsense"}, "QUOTA_TRUSTED_PROXIES"},
		"bad failure mode":    {map[string]string{"QUOTA_REDIS_FAILURE": "maybe"}, "QUOTA_REDIS_FAILURE"},
		"bad timeout":         {map[string]string{"QUOTA_REDIS_TIMEOUT": "fast"}, "QUOTA_REDIS_TIMEOUT"},
		"negative timeout":    {map[string]string{"QUOTA_REDIS_TIMEOUT": "-1s"}, "QUOTA_REDIS_TIMEOUT"},
		"bad log format":      {map[string]string{"QUOTA_LOG_FORMAT": "xml"}, "QUOTA_LOG_FORMAT"},
		"bad shutdown time":   {map[string]string{"QUOTA_SHUTDOWN_TIMEOUT": "0"}, "QUOTA_SHUTDOWN_TIMEOUT"},
		"bad write timeout":   {map[string]string{"QUOTA_WRITE_TIMEOUT": "soon"}, "QUOTA_WRITE_TIMEOUT"},
		"long write timeout":  {map[string]string{"QUOTA_WRITE_TIMEOUT": "2m"}, "QUOTA_WRITE_TIMEOUT"},
		"zero max conns":      {map[string]string{"QUOTA_MAX_CONNS": "0"}, "QUOTA_MAX_CONNS"},
		"bad max conns":       {map[string]string{"QUOTA_MAX_CONNS": "many"}, "QUOTA_MAX_CONNS"},
		"bad access log":      {map[string]string{"QUOTA_ACCESS_LOG": "some"}, "QUOTA_ACCESS_LOG"},
		"bad webhook url":     {map[string]string{"QUOTA_WEBHOOK_URL": "hooks.example.com/q", "QUOTA_WEBHOOK_SECRET": testSecret}, "QUOTA_WEBHOOK_URL"},
		"ftp webhook url":     {map[string]string{"QUOTA_WEBHOOK_URL": "ftp://hooks.example.com/q", "QUOTA_WEBHOOK_SECRET": testSecret}, "QUOTA_WEBHOOK_URL"},
		"no webhook secret":   {map[string]string{"QUOTA_WEBHOOK_URL": "https://hooks.example.com/q"}, "QUOTA_WEBHOOK_SECRET"},
		"short hook secret":   {map[string]string{"QUOTA_WEBHOOK_URL": "https://hooks.example.com/q", "QUOTA_WEBHOOK_SECRET": "short"}, "QUOTA_WEBHOOK_SECRET"},
		"bad meter interval":  {map[string]string{"QUOTA_METER_INTERVAL": "soon"}, "QUOTA_METER_INTERVAL"},
		"long meter interval": {map[string]string{"QUOTA_METER_INTERVAL": "1m"}, "QUOTA_METER_INTERVAL"},
		"bad deny status":     {map[string]string{"QUOTA_AUTHORIZE_DENY_STATUS": "401"}, "QUOTA_AUTHORIZE_DENY_STATUS"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{}
			for k, v := range good {
				vars[k] = v
			}
			for k, v := range tc.set {
				vars[k] = v
			}
			var out bytes.Buffer
			err := run(context.Background(), []string{"quotad"}, env(vars), &out, &out)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want+":") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v; want one line starting %q", err, tc.want+":")
			}
		})
	}
	if err := run(context.Background(), []string{"quotad", "healthcheck"}, env(map[string]string{"QUOTA_ADDR": testenv.ClosedAddr(t)}), io.Discard, io.Discard); err == nil {
		t.Fatal("healthcheck of nothing succeeded")
	}
	if err := run(context.Background(), []string{"quotad", "frobnicate"}, env(good), io.Discard, io.Discard); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
}

// TestRun_TokenAndMigrate: the token subcommand mints a token quotad
// accepts, and migrate is idempotent.
func TestRun_TokenAndMigrate(t *testing.T) {
	t.Parallel()
	vars := baseVars(t)
	for range 2 {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"quotad", "migrate"}, env(vars), &out, &out); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	var tok bytes.Buffer
	if err := run(context.Background(), []string{"quotad", "token", "-sub", "alice", "-admin", "-ttl", "5m"}, env(vars), &tok, io.Discard); err != nil {
		t.Fatal(err)
	}
	a, err := api.NewAuthenticator(context.Background(), api.AuthConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Verify(strings.TrimSpace(tok.String()))
	if err != nil || id.ClientID != "alice" || !id.Admin {
		t.Fatalf("minted token verifies as %+v, %v", id, err)
	}
	if err := run(context.Background(), []string{"quotad", "token"}, env(vars), io.Discard, io.Discard); err == nil {
		t.Fatal("token without -sub accepted")
	}
	if err := run(context.Background(), []string{"quotad", "token", "-sub", "x"}, env(map[string]string{}), io.Discard, io.Discard); err == nil {
		t.Fatal("token without a secret accepted")
	}
}

func mintTestToken(tb testing.TB, sub string) string {
	tb.Helper()
	tok, err := api.MintToken([]byte(testSecret), api.TokenClaims{Subject: sub, TTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// getWithToken GETs url with a bearer token; the body is closed.
func getWithToken(tb testing.TB, url, tok string) *http.Response {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
