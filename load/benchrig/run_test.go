package benchrig

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// fakeBench records what Run did with it.
type fakeBench struct {
	runErr, closeErr error
	missed           bool
	cancel           context.CancelFunc // called by Run, as a signal would
	tails, closes    int
}

func (f *fakeBench) Run(ctx context.Context) error {
	if f.cancel != nil {
		f.cancel()
		return ctx.Err()
	}
	return f.runErr
}
func (f *fakeBench) PrintLogTails() { f.tails++ }
func (f *fakeBench) Close() error   { f.closes++; return f.closeErr }
func (f *fakeBench) Missed() bool   { return f.missed }

var _ Bench = (*fakeBench)(nil)

func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		bench     fakeBench
		strict    bool
		interrupt bool
		want      int
		wantTails int
		wantErr   string // a line of stderr; empty: nothing written
	}{
		{name: "completed", want: ExitOK},
		{name: "missed, not strict", bench: fakeBench{missed: true}, want: ExitOK},
		{name: "missed, strict", bench: fakeBench{missed: true}, strict: true, want: ExitMissed},
		{name: "met, strict", strict: true, want: ExitOK},
		{name: "failed", bench: fakeBench{runErr: errors.New("node 2 not ready")}, want: ExitFailed, wantTails: 1,
			wantErr: "bench-x: FAIL: node 2 not ready\n"},
		{name: "cleanup failed", bench: fakeBench{closeErr: errors.New("upstream: gone")}, want: ExitOK,
			wantErr: "bench-x: cleanup: upstream: gone\n"},
		{name: "interrupted", interrupt: true, want: ExitInterrupted,
			wantErr: "bench-x: interrupted; everything it started is stopped\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b := tt.bench
			if tt.interrupt {
				b.cancel = cancel
			}
			var stderr strings.Builder
			if got := Run(ctx, "bench-x", &b, tt.strict, &stderr); got != tt.want {
				t.Errorf("Run = %d, want %d", got, tt.want)
			}
			if b.closes != 1 || b.tails != tt.wantTails {
				t.Errorf("closed %d times, log tails %d times; want 1, %d", b.closes, b.tails, tt.wantTails)
			}
			if stderr.String() != tt.wantErr {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.wantErr)
			}
		})
	}
}
