package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/connect-doctor/connect-doctor/storage/storagetest"
)

// BenchmarkInstallPostgres measures the server side of a signed install
// with the key already cached: HTTP, payload validation, RS256
// verification, AES-GCM sealing and the UPSERT on PostgreSQL. The callbacks
// are signed before the timer starts (RSA signing is Jira's cost, not ours).
func BenchmarkInstallPostgres(b *testing.B) {
	h := newHarness(b, storagetest.PostgresURL(b))
	type call struct {
		body []byte
		auth string
	}
	calls := make([]call, 256)
	for i := range calls {
		body, auth := h.signLifecycle("/installed", payload(fmt.Sprintf("ck-%d", i%64), fmt.Sprintf("secret-%08d-0123456789abcdef", i), "installed"), nil)
		calls[i] = call{body, auth}
	}
	if r := h.do("POST", "/installed", calls[0].auth, calls[0].body); r.StatusCode != 204 {
		b.Fatalf("warm-up install: %d", r.StatusCode)
	}
	client := &http.Client{}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := calls[i%len(calls)]
		i++
		req, _ := http.NewRequest("POST", h.addr+"/installed", bytes.NewReader(c.body))
		req.Header.Set("Authorization", c.auth)
		r, err := client.Do(req)
		if err != nil || r.StatusCode != 204 {
			b.Fatalf("install: %v %v", r, err)
		}
		r.Body.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "installs/s")
}
