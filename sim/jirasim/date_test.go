package jirasim

import (
	"net/http"
	"testing"
	"time"
)

// TestDateHeaderTellsTheSiteClock: the Date header follows the injected
// clock and a ClockSkew fault, so the skew is visible as on a real server.
func TestDateHeaderTellsTheSiteClock(t *testing.T) {
	s, clk := newSim(t, nil)
	date := func() time.Time {
		resp, err := http.Get(s.URL() + "/rest/api/3/serverInfo")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		d, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil {
			t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
		}
		return d
	}
	if got := date(); !got.Equal(clk.Now().Truncate(time.Second)) {
		t.Fatalf("Date %v, site clock %v", got, clk.Now())
	}
	s.SetFault(Fault{Kind: ClockSkew, Skew: 10 * time.Minute})
	if got := date(); !got.Equal(clk.Now().Add(10 * time.Minute).Truncate(time.Second)) {
		t.Fatalf("Date %v with a +10m skew of %v", got, clk.Now())
	}
}
