package simtest_test

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/secretprov/secretprov/internal/simtest"
)

// brokenCollector makes Gather fail.
type brokenCollector struct{ desc *prometheus.Desc }

func (b brokenCollector) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }
func (b brokenCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(b.desc, errors.New("broken"))
}

func TestMetricValue(t *testing.T) {
	reg := prometheus.NewRegistry()
	conns := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "conns_total"}, []string{"cause", "peer"})
	open := prometheus.NewGauge(prometheus.GaugeOpts{Name: "open"})
	reg.MustRegister(conns, open, prometheus.NewUntypedFunc(prometheus.UntypedOpts{Name: "raw"}, func() float64 { return 7 }))
	conns.WithLabelValues("limit", "a").Add(3)
	conns.WithLabelValues("limit", "b").Add(5)
	open.Set(2)
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"counter, exact labels", "conns_total", map[string]string{"cause": "limit", "peer": "b"}, 5},
		{"counter, other series", "conns_total", map[string]string{"cause": "limit", "peer": "a"}, 3},
		{"counter, label subset", "conns_total", map[string]string{"cause": "limit"}, 0},
		{"counter, extra label", "conns_total", map[string]string{"cause": "limit", "peer": "a", "x": "y"}, 0},
		{"counter, other value", "conns_total", map[string]string{"cause": "timeout", "peer": "a"}, 0},
		{"counter, no labels", "conns_total", nil, 0},
		{"gauge", "open", nil, 2},
		{"gauge, unexpected label", "open", map[string]string{"cause": "limit"}, 0},
		{"untyped", "raw", nil, 7},
		{"absent", "nope_total", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := simtest.MetricValue(t, reg, tc.metric, tc.labels); got != tc.want {
				t.Errorf("MetricValue(%s, %v) = %v, want %v", tc.metric, tc.labels, got, tc.want)
			}
		})
	}

	broken := prometheus.NewRegistry()
	broken.MustRegister(brokenCollector{prometheus.NewDesc("broken", "", nil, nil)})
	rec := &failRecorder{TB: t}
	simtest.MetricValue(rec, broken, "broken", nil)
	if !rec.failed {
		t.Error("MetricValue did not fail the test when Gather failed")
	}
}
