package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestIPAM(t *testing.T) {
	a, err := newIPAM("10.244.0.0/29") // .1 gateway, .2-.6 pods, .7 broadcast
	if err != nil {
		t.Fatal(err)
	}
	if a.gw.String() != "10.244.0.1" {
		t.Fatalf("gateway %s", a.gw)
	}
	ip, _ := a.allocate("p1", "")
	if ip.String() != "10.244.0.2" {
		t.Errorf("first %s", ip)
	}
	// A restarted agent asks for the pod's previous address and gets it.
	ip, _ = a.allocate("p2", "10.244.0.5")
	if ip.String() != "10.244.0.5" {
		t.Errorf("wanted address %s", ip)
	}
	// Taken, gateway, outside: fall back to the lowest free.
	for _, want := range []string{"10.244.0.5", "10.244.0.1", "10.244.1.9"} {
		ip, _ = a.allocate("x"+want, want)
		if ip.String() == want {
			t.Errorf("got %s although it must not be handed out", want)
		}
	}
	// .2 .3 .4 .5 .6 are taken now; .7 is the broadcast address.
	if _, err := a.allocate("p7", ""); err == nil {
		t.Error("the CIDR is full: .7 is the broadcast address")
	}
	a.release(ip, "x10.244.1.9")
	if got, err := a.allocate("p8", ""); err != nil || got != ip {
		t.Errorf("released address not reused: %s %v", got, err)
	}
	if _, err := newIPAM("fd00::/64"); err == nil {
		t.Error("IPv6 CIDR must be rejected")
	}
}

func TestLaunchScript(t *testing.T) {
	s := launchScript([]bindMount{
		{Source: "/state/vol/tmp", Target: "/tmp"},
		{Source: "/state/vol/sa", Target: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
		{Source: "/state/vol/cfg/it's", Target: "/etc/app/config.yaml", File: true},
	}, "/work dir")
	for _, want := range []string{
		"set -e",
		"mkdir -p '/tmp'\nmount --bind '/state/vol/tmp' '/tmp'",
		"mount --bind '/state/vol/sa' '/var/run/secrets/kubernetes.io/serviceaccount'\nmount -o remount,bind,ro '/var/run/secrets/kubernetes.io/serviceaccount'",
		"mkdir -p '/etc/app'\n[ -e '/etc/app/config.yaml' ] || : > '/etc/app/config.yaml'\nmount --bind '/state/vol/cfg/it'\\''s' '/etc/app/config.yaml'",
		"cd '/work dir'",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	if !strings.HasSuffix(s, `exec "$@"`) {
		t.Errorf("script must end by exec'ing the command:\n%s", s)
	}
	if strings.Contains(s, "remount,bind,ro '/tmp'") {
		t.Error("/tmp must stay writable")
	}
}

func TestContainerMounts(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg")
	os.MkdirAll(cfg, 0o755)
	os.WriteFile(filepath.Join(cfg, "app.yaml"), []byte("x"), 0o644)
	vols := []corev1.Volume{
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
	}
	c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{
		{Name: "tmp", MountPath: "/tmp"},
		{Name: "cfg", MountPath: "/etc/app.yaml", SubPath: "app.yaml"},
	}}
	ms, err := containerMounts(c, vols, map[string]string{"tmp": filepath.Join(dir, "tmp"), "cfg": cfg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].ReadOnly || ms[0].File || !ms[1].ReadOnly || !ms[1].File || ms[1].Source != filepath.Join(cfg, "app.yaml") {
		t.Errorf("mounts: %+v", ms)
	}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/x", SubPath: "../../etc"}}
	if ms, err := containerMounts(c, vols, map[string]string{"cfg": cfg}, nil); err != nil || ms[0].Source != filepath.Join(cfg, "etc") {
		t.Errorf("a subPath with .. must stay inside the volume: %+v %v", ms, err)
	}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "missing", MountPath: "/x"}}
	if _, err := containerMounts(c, vols, map[string]string{}, nil); err == nil {
		t.Error("a mount of an unknown volume must fail")
	}
}

func TestKeyFilesAndWriteFiles(t *testing.T) {
	data := map[string][]byte{"a": []byte("1"), "b": []byte("2")}
	mode := int32(0o600)
	files, err := keyFiles(data, []corev1.KeyToPath{{Key: "a", Path: "sub/a.txt", Mode: &mode}}, nil, "configmap", "c", false)
	if err != nil || len(files) != 1 || files["sub/a.txt"].Mode != 0o600 {
		t.Fatalf("items: %+v %v", files, err)
	}
	if _, err := keyFiles(data, []corev1.KeyToPath{{Key: "zz", Path: "z"}}, nil, "configmap", "c", false); err == nil {
		t.Error("a missing key must fail unless optional")
	}
	dir := t.TempDir()
	all, _ := keyFiles(data, nil, nil, "secret", "s", false)
	w, err := writeFiles(dir, all, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "b")); string(b) != "2" {
		t.Errorf("b = %q", b)
	}
	delete(all, "b")
	if _, err := writeFiles(dir, all, w); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b")); !os.IsNotExist(err) {
		t.Error("a key removed from the ConfigMap must disappear from the volume")
	}
	if _, err := writeFiles(dir, map[string]file{"../escape": {Data: []byte("x")}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escape")); err != nil {
		t.Errorf("a path with .. must be written inside the volume: %v", err)
	}
}

func TestParseProcStart(t *testing.T) {
	stat := "1234 (node server) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 2 0 0 20 0 11 0 987654 1000 50 18446744073709551615"
	if got := parseProcStart(stat); got != 987654 {
		t.Errorf("start = %d", got)
	}
	if parseProcStart("garbage") != 0 {
		t.Error("garbage")
	}
	if procStart(os.Getpid()) == 0 {
		t.Error("own process start time")
	}
}

func TestTailOffset(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	os.WriteFile(p, []byte("one\ntwo\nthree\n"), 0o644)
	f, _ := os.Open(p)
	defer f.Close()
	for n, want := range map[int]string{1: "three\n", 2: "two\nthree\n", 3: "one\ntwo\nthree\n", 10: "one\ntwo\nthree\n"} {
		off, err := tailOffset(f, n)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 100)
		k, _ := f.ReadAt(b, off)
		if string(b[:k]) != want {
			t.Errorf("tail %d = %q, want %q", n, b[:k], want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	if _, err := parseFlags([]string{}); err == nil || !strings.Contains(err.Error(), "--images") {
		t.Errorf("missing flags must be named: %v", err)
	}
	f, err := parseFlags([]string{"--kubeconfig", "k", "--images", "i", "--state-dir", "s"})
	if err != nil {
		t.Fatal(err)
	}
	if f.nodeName != "local-node" || f.nodeIP != "10.250.0.1" || f.podCIDR != "10.244.0.0/24" || f.maxGrace.Seconds() != 45 || f.kubeletPort != 10250 {
		t.Errorf("defaults: %+v", f)
	}
	n := nodeSpec(f, nil)
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	if !ready || n.Spec.PodCIDR != "10.244.0.0/24" || n.Status.Addresses[0].Address != "10.250.0.1" || n.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("node: %+v", n)
	}
}

func TestParseTaints(t *testing.T) {
	ts, err := parseTaints("kfn/test=true:NoSchedule, dedicated:NoExecute")
	if err != nil || len(ts) != 2 || ts[0].Key != "kfn/test" || ts[0].Value != "true" || ts[0].Effect != corev1.TaintEffectNoSchedule ||
		ts[1].Key != "dedicated" || ts[1].Value != "" || ts[1].Effect != corev1.TaintEffectNoExecute {
		t.Errorf("taints: %+v %v", ts, err)
	}
	for _, bad := range []string{"k=v", "k=v:Sometimes", "=v:NoSchedule"} {
		if _, err := parseTaints(bad); err == nil {
			t.Errorf("%q must be rejected", bad)
		}
	}
	if ts, err := parseTaints(""); err != nil || len(ts) != 0 {
		t.Errorf("empty: %v %v", ts, err)
	}
}
