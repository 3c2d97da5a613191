package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TestStatusBody checks GET /v1/status and /status: IPA's started_at and
// version as IPA sends them, and the agent's details added under
// "metalagent" only when there are some.
func TestStatusBody(t *testing.T) {
	tests := []struct {
		name    string
		details func() any
		want    string
	}{
		{"IPA's fields only", nil, `{"started_at":1700000000,"version":"0.1.0"}` + "\n"},
		{"with the boot stages", func() any {
			return map[string]any{"summary": "at lookup for 2s", "stages": []any{map[string]any{"name": "lookup", "state": "running"}}}
		}, `{"started_at":1700000000,"version":"0.1.0","metalagent":{"stages":[{"name":"lookup","state":"running"}],"summary":"at lookup for 2s"}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{Version: "0.1.0", Started: time.Unix(1700000000, 0), Logger: hclog.NewNullLogger(), Details: tt.details}
			ts := httptest.NewServer(s.Handler())
			defer ts.Close()
			for _, path := range []string{"/v1/status", "/status"} {
				resp, err := http.Get(ts.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(b) != tt.want {
					t.Errorf("GET %s = %d %s\nwant 200 %s", path, resp.StatusCode, b, tt.want)
				}
			}
		})
	}
}
