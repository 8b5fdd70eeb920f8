package benchrig

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"testing"
)

func TestRigClose(t *testing.T) {
	var stdout, stderr bytes.Buffer
	r := NewRig("bench-test", &stdout, &stderr, 2)
	if err := r.Prepare(os.Args[0]); err != nil {
		t.Fatal(err)
	}
	var order []string
	r.OnClose(func() error { order = append(order, "first"); return nil })
	r.OnClose(func() error { order = append(order, "second"); return errors.New("second: gone") })

	r.Progress("step %d", 1)
	r.Summary.Add("measure", "1", "≥ 2", false)
	r.PrintSummary("(how to read it)")
	if got, want := stderr.String(), "bench-test: step 1\n"; got != want {
		t.Errorf("progress = %q, want %q", got, want)
	}
	if !bytes.HasSuffix(stdout.Bytes(), []byte("(how to read it)\n")) || !r.Missed() {
		t.Errorf("summary = %q, missed %v; want the table, the note and missed", stdout.String(), r.Missed())
	}

	err := r.Close()
	if err == nil || err.Error() != "second: gone" {
		t.Errorf("Close = %v, want the second cleanup's error", err)
	}
	if want := []string{"second", "first"}; !slices.Equal(order, want) {
		t.Errorf("cleanups ran %v, want %v", order, want)
	}
	if _, err := os.Stat(r.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory after Close: %v, want it removed", err)
	}
	if err2 := r.Close(); err2 != err || len(order) != 2 {
		t.Errorf("second Close = %v and %d cleanups, want the same error and no more", err2, len(order))
	}
}

func TestRigPrepareBadBinary(t *testing.T) {
	r := NewRig("bench-test", &bytes.Buffer{}, &bytes.Buffer{}, 2)
	if err := r.Prepare(t.TempDir()); err == nil {
		t.Fatal("Prepare with a directory for the binary: no error")
	}
	if r.Dir != "" {
		t.Errorf("Dir = %q after a failed Prepare, want none", r.Dir)
	}
}
