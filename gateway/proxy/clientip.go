package proxy

import (
	"net"
	"net/netip"
)

// trustedSet is the set of peers whose X-Forwarded-* headers are believed
// (Kong's trusted_ips).
type trustedSet []netip.Prefix

func (t trustedSet) contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr converts the connection's remote IP.
func peerAddr(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}

// realClientIP finds the client address in a real-IP header sent by a
// trusted peer: the list is walked from the right (the hop nearest to us)
// and the first address that is not itself trusted is the client, as
// nginx's realip module does with real_ip_recursive on. With one trusted
// proxy in front this is the address it appended, which is what Kong's
// default (recursive off) yields too; with a chain of trusted proxies it
// skips them all instead of stopping at the last one. An entry that does
// not parse ends the walk: what lies left of it cannot be trusted. ok is
// false when the header holds no usable address.
func realClientIP(header []byte, trusted trustedSet) (addr netip.Addr, ok bool) {
	end := len(header)
	for end > 0 {
		start := end - 1
		for start >= 0 && header[start] != ',' {
			start--
		}
		field := trimSpace(header[start+1 : end])
		end = start
		if len(field) == 0 {
			continue
		}
		a, good := parseForwardedAddr(field)
		if !good {
			return addr, ok
		}
		addr, ok = a, true
		if !trusted.contains(a) {
			return addr, true
		}
	}
	return addr, ok
}

// parseForwardedAddr parses one entry of X-Forwarded-For: an IPv4 or IPv6
// address, optionally with a port (1.2.3.4:5, [::1]:5) as some proxies add.
func parseForwardedAddr(b []byte) (netip.Addr, bool) {
	s := string(b) // does not escape: ParseAddr copies nothing it keeps
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
