package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// ipam hands out /32 addresses from the pod CIDR: .1 is the gateway on every pod veth's cluster
// side, pods get .2 upwards.
type ipam struct {
	mu     sync.Mutex
	prefix netip.Prefix
	gw     netip.Addr
	used   map[netip.Addr]string
}

func newIPAM(cidr string) (*ipam, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return nil, fmt.Errorf("--pod-cidr %q: want an IPv4 CIDR such as 10.244.0.0/24", cidr)
	}
	p = p.Masked()
	return &ipam{prefix: p, gw: p.Addr().Next(), used: map[netip.Addr]string{}}, nil
}

// allocate returns want if it is free and inside the CIDR (a restarted agent keeps a pod's
// address), else the lowest free one.
func (a *ipam) allocate(owner, want string) (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w, err := netip.ParseAddr(want); err == nil && a.prefix.Contains(w) && w != a.gw && w.Compare(a.gw) > 0 {
		if o, taken := a.used[w]; !taken || o == owner {
			if !isBroadcast(a.prefix, w) {
				a.used[w] = owner
				return w, nil
			}
		}
	}
	for ip := a.gw.Next(); a.prefix.Contains(ip); ip = ip.Next() {
		if isBroadcast(a.prefix, ip) {
			break
		}
		if o, taken := a.used[ip]; !taken || o == owner {
			a.used[ip] = owner
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("pod CIDR %s is full (%d pods): delete pods or widen --pod-cidr", a.prefix, len(a.used))
}

func isBroadcast(p netip.Prefix, ip netip.Addr) bool {
	if p.Bits() >= 31 {
		return false
	}
	return !p.Contains(ip.Next())
}

func (a *ipam) release(ip netip.Addr, owner string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used[ip] == owner {
		delete(a.used, ip)
	}
}

// runIP runs `ip` with commands on stdin in batch mode (one process for many changes).
func runIP(ctx context.Context, args []string, batch []string) error {
	cmd := exec.CommandContext(ctx, "ip", append(args, "-batch", "-")...)
	cmd.Stdin = strings.NewReader(strings.Join(batch, "\n") + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// setupPodNetwork creates the pod's network namespace and a veth pair: eth0 in the pod with a
// /32 and a default route via the gateway, the cluster side with the gateway address and a /32
// route to the pod.
func setupPodNetwork(ctx context.Context, netns, veth string, podIP, gw netip.Addr) error {
	_ = os.MkdirAll("/run/netns", 0o755)
	if err := runIP(ctx, nil, []string{
		"netns add " + netns,
		fmt.Sprintf("link add %s type veth peer name eth0 netns %s", veth, netns),
		fmt.Sprintf("addr add %s/32 dev %s", gw, veth),
		fmt.Sprintf("link set %s up", veth),
		fmt.Sprintf("route add %s/32 dev %s", podIP, veth),
	}); err != nil {
		return err
	}
	return runIP(ctx, []string{"-n", netns}, []string{
		"link set lo up",
		fmt.Sprintf("addr add %s/32 dev eth0", podIP),
		"link set eth0 up",
		fmt.Sprintf("route add %s dev eth0 scope link", gw),
		fmt.Sprintf("route add default via %s dev eth0", gw),
	})
}

// teardownPodNetwork removes the namespace (which removes both ends of the veth) and its /etc/netns files.
func teardownPodNetwork(netns, veth string) {
	_ = exec.Command("ip", "netns", "delete", netns).Run()
	_ = exec.Command("ip", "link", "delete", veth).Run()
	_ = os.RemoveAll(filepath.Join("/etc/netns", netns))
}
