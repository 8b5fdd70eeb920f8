package migration_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/migration"
)

func TestStatuses(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	migs := []migration.Migration{
		{Version: 1, Name: "init", File: "001_init.sql", Checksum: "c1"},
		{Version: 2, Name: "two", File: "002_two.sql", Checksum: "c2"},
		{Version: 3, Name: "three", File: "003_three.sql", Checksum: "c3"},
	}
	tests := []struct {
		name    string
		migs    []migration.Migration
		recs    map[int]migration.Record
		want    []migration.Status
		states  string
		pending []int
		unknown []int
		wantErr string // from CheckModified; "" for none
	}{
		{
			name:    "nothing recorded",
			migs:    migs,
			want:    []migration.Status{{Version: 1, Name: "init"}, {Version: 2, Name: "two"}, {Version: 3, Name: "three"}},
			states:  "pending,pending,pending",
			pending: []int{1, 2, 3},
		},
		{
			name: "some applied",
			migs: migs,
			recs: map[int]migration.Record{
				1: {Version: 1, Name: "init", Checksum: "c1", AppliedAt: at},
				2: {Version: 2, Name: "two", Checksum: "c2", AppliedAt: at},
			},
			want: []migration.Status{
				{Version: 1, Name: "init", Applied: true, AppliedAt: at},
				{Version: 2, Name: "two", Applied: true, AppliedAt: at},
				{Version: 3, Name: "three"},
			},
			states:  "applied,applied,pending",
			pending: []int{3},
		},
		{
			name: "modified ones named",
			migs: migs,
			recs: map[int]migration.Record{
				1: {Version: 1, Name: "init", Checksum: "c1", AppliedAt: at},
				2: {Version: 2, Name: "two", Checksum: "0123456789abcdef", AppliedAt: at},
				3: {Version: 3, Name: "three", Checksum: "old", AppliedAt: at},
			},
			want: []migration.Status{
				{Version: 1, Name: "init", Applied: true, AppliedAt: at},
				{Version: 2, Name: "two", Applied: true, AppliedAt: at, Modified: true},
				{Version: 3, Name: "three", Applied: true, AppliedAt: at, Modified: true},
			},
			states:  "applied,modified,modified",
			wantErr: "applied migration modified: 002_two.sql (recorded checksum 0123456789ab…, file c2…), 003_three.sql (recorded checksum old…, file c3…); an applied migration must not change",
		},
		{
			name: "recorded by a newer binary",
			migs: migs[:1],
			recs: map[int]migration.Record{
				5: {Version: 5, Name: "five", Checksum: "c5", AppliedAt: at},
				1: {Version: 1, Name: "init", Checksum: "c1", AppliedAt: at},
				4: {Version: 4, Name: "four", Checksum: "c4", AppliedAt: at},
			},
			want: []migration.Status{
				{Version: 1, Name: "init", Applied: true, AppliedAt: at},
				{Version: 4, Name: "four", Applied: true, AppliedAt: at, Unknown: true},
				{Version: 5, Name: "five", Applied: true, AppliedAt: at, Unknown: true},
			},
			states:  "applied,unknown,unknown",
			unknown: []int{4, 5},
		},
		{
			name:   "no migrations embedded",
			recs:   map[int]migration.Record{1: {Version: 1, Name: "init", Checksum: "c1", AppliedAt: at}},
			want:   []migration.Status{{Version: 1, Name: "init", Applied: true, AppliedAt: at, Unknown: true}},
			states: "unknown", unknown: []int{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := migration.Statuses(tt.migs, tt.recs)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Statuses:\n got %+v\nwant %+v", got, tt.want)
			}
			var states []string
			for _, st := range got {
				states = append(states, st.State())
			}
			if s := strings.Join(states, ","); s != tt.states {
				t.Errorf("states %s, want %s", s, tt.states)
			}

			var pending, unknown []int
			for _, m := range migration.Pending(tt.migs, tt.recs) {
				pending = append(pending, m.Version)
			}
			for _, r := range migration.Unknown(tt.migs, tt.recs) {
				unknown = append(unknown, r.Version)
			}
			if !reflect.DeepEqual(pending, tt.pending) {
				t.Errorf("Pending %v, want %v", pending, tt.pending)
			}
			if !reflect.DeepEqual(unknown, tt.unknown) {
				t.Errorf("Unknown %v, want %v", unknown, tt.unknown)
			}

			err := migration.CheckModified(tt.migs, tt.recs)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("CheckModified: %v", err)
				}
				return
			}
			if !errors.Is(err, migration.ErrModified) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("CheckModified: %v, want ErrModified containing %q", err, tt.wantErr)
			}
		})
	}
}
