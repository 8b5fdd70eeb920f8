package broadcast

import "testing"

func TestHub(t *testing.T) {
	var h Hub
	h.Notify() // no subscribers: nothing to do
	a, stopA := h.Subscribe()
	b, stopB := h.Subscribe()
	defer stopB()
	h.Notify()
	h.Notify() // coalesced, does not block
	for name, ch := range map[string]<-chan struct{}{"a": a, "b": b} {
		select {
		case <-ch:
		default:
			t.Fatalf("%s got no signal", name)
		}
		select {
		case <-ch:
			t.Fatalf("%s got two signals for coalesced notifies", name)
		default:
		}
	}
	stopA()
	stopA()
	h.Notify()
	select {
	case <-a:
		t.Fatal("signal after stop")
	default:
	}
	select {
	case <-b:
	default:
		t.Fatal("remaining subscriber got no signal")
	}
}
