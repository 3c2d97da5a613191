package config

import "testing"

func TestObservabilitySettings(t *testing.T) {
	type settings struct {
		metrics   bool
		address   string
		logFormat string
	}
	tests := []struct {
		name    string
		cmd     string
		args    []string
		want    settings
		wantErr bool
	}{
		{name: "defaults: metrics off, text logs", want: settings{false, "127.0.0.1:9608", "text"}},
		{name: "kernel parameters",
			cmd:  "metalagent-metrics=1 metalagent-metrics-address=:9100 metalagent-log-format=json",
			want: settings{true, ":9100", "json"}},
		{name: "flags win",
			cmd:  "metalagent-metrics=1 metalagent-log-format=json",
			args: []string{"--metrics=false", "--log-format", "text", "--metrics-address", "[::1]:9608"},
			want: settings{false, "[::1]:9608", "text"}},
		{name: "bad address ignored while metrics are off", args: []string{"--metrics-address", "nope"},
			want: settings{false, "nope", "text"}},
		{name: "unknown log format", cmd: "metalagent-log-format=xml", wantErr: true},
		{name: "address without port", args: []string{"--metrics", "--metrics-address", "127.0.0.1"}, wantErr: true},
		{name: "address with empty port", cmd: "metalagent-metrics=true metalagent-metrics-address=127.0.0.1:", wantErr: true},
		{name: "bad boolean", cmd: "metalagent-metrics=perhaps", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--standalone", "--cmdline-file", cmdline(t, tt.cmd)}, tt.args...)
			c, err := Parse("t", args)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse succeeded (%+v), want an error", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := (settings{c.Metrics, c.MetricsAddress, c.LogFormat}); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
