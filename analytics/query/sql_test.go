package query

import (
	"reflect"
	"testing"
	"time"
)

func TestSumUsageAddsRowsOfOneKeyAndSorts(t *testing.T) {
	d1 := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	d2 := d1.Add(Day)
	// As a daily table's parts send them: part by part, a key in two parts
	// before a merge added them up.
	got := SumUsage([]UsageRow{
		{Start: d2, Workspace: "acme", ConsumerID: "bob", Requests: 1, BillableRequests: 1, BillingUnits: 3},
		{Start: d1, Workspace: "acme", ConsumerID: "bob", Requests: 2, BillableRequests: 2, BillingUnits: 2},
		{Start: d1, Workspace: "acme", ConsumerID: "alice", Requests: 5, BillableRequests: 4, BillingUnits: 9},
		{Start: d1, Workspace: "globex", ConsumerID: "alice", Requests: 7},
		{Start: d1, Workspace: "acme", ConsumerID: "bob", Requests: 3, BillableRequests: 1, BillingUnits: 10},
		{Start: d2, Workspace: "acme", ConsumerID: "", Requests: 4},
	})
	want := []UsageRow{
		{Start: d1, Workspace: "acme", ConsumerID: "alice", Requests: 5, BillableRequests: 4, BillingUnits: 9},
		{Start: d1, Workspace: "acme", ConsumerID: "bob", Requests: 5, BillableRequests: 3, BillingUnits: 12},
		{Start: d1, Workspace: "globex", ConsumerID: "alice", Requests: 7},
		{Start: d2, Workspace: "acme", ConsumerID: "", Requests: 4},
		{Start: d2, Workspace: "acme", ConsumerID: "bob", Requests: 1, BillableRequests: 1, BillingUnits: 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SumUsage\n%+v\nwant\n%+v", got, want)
	}
	if got := SumUsage(nil); len(got) != 0 {
		t.Errorf("SumUsage(nil) = %+v", got)
	}
}
