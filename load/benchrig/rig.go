package benchrig

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
)

// Rig is the part of a run that every benchmark command has: where its
// results and progress go, its temporary directory, its closing summary
// table, its HTTP client for the servers it starts and the in-process
// parts to close when it ends. A command's
// bench type embeds a *Rig and adds what it starts.
//
// Progress, Printf and the Summary are used by the one goroutine that
// drives the run; OnClose may be called from any goroutine.
type Rig struct {
	// Name prefixes progress lines and names the temporary directory
	// ("bench-cluster").
	Name string
	// Stdout takes the results, Stderr progress and log tails.
	Stdout, Stderr io.Writer
	// Dir is the temporary directory, set by Prepare and removed by
	// Close; "" until then.
	Dir string
	// HTTP is a LocalClient for the run's Admin API calls, polls and
	// scrapes; Close closes its idle connections.
	HTTP *http.Client
	// Summary is the closing table (PrintSummary).
	Summary Summary

	mu        sync.Mutex
	closers   []func() error // closed last first
	closeOnce sync.Once
	closeErr  error
}

// NewRig returns a rig that writes results to stdout and progress to
// stderr, whose HTTP client keeps up to maxIdlePerHost idle connections
// to each server.
func NewRig(name string, stdout, stderr io.Writer, maxIdlePerHost int) *Rig {
	return &Rig{Name: name, Stdout: stdout, Stderr: stderr, HTTP: LocalClient(maxIdlePerHost)}
}

// Progress writes one line to stderr, after the rig's name.
func (r *Rig) Progress(format string, args ...any) {
	fmt.Fprintf(r.Stderr, r.Name+": "+format+"\n", args...)
}

// Printf writes results to stdout.
func (r *Rig) Printf(format string, args ...any) {
	fmt.Fprintf(r.Stdout, format, args...)
}

// Prepare checks that bin is an executable tollgate binary (CheckBinary,
// with the rig's name as the make target) and creates the temporary
// directory (Dir), which Close removes.
func (r *Rig) Prepare(bin string) error {
	if err := CheckBinary(bin, r.Name); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", r.Name+".")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	r.Dir = dir
	return nil
}

// OnClose registers an in-process part (a server, a connection, an HTTP
// client's idle connections) to close when the run ends. Close closes
// them in the reverse order of registration: the first registered is
// closed last.
func (r *Rig) OnClose(f func() error) {
	r.mu.Lock()
	r.closers = append(r.closers, f)
	r.mu.Unlock()
}

// PrintSummary prints the closing table, then note, which says how to
// read it; nothing when the table is empty (the run failed before its
// first measure).
func (r *Rig) PrintSummary(note string) {
	if r.Summary.Len() == 0 {
		return
	}
	_, _ = r.Summary.WriteTo(r.Stdout)
	r.Printf("%s\n", note)
}

// Missed tells whether a measure missed its target.
func (r *Rig) Missed() bool { return r.Summary.Missed() }

// Close closes what OnClose registered, last first, then the HTTP
// client's idle connections, then removes the temporary directory, and returns every error met. Idempotent. A
// command stops its child processes before it calls Close: they may be
// using what it closes, and their logs are in Dir.
func (r *Rig) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		closers := r.closers
		r.closers = nil
		r.mu.Unlock()
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		r.HTTP.CloseIdleConnections()
		if r.Dir != "" {
			errs = append(errs, os.RemoveAll(r.Dir))
		}
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}
