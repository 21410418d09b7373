package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ctrRT is one container of a pod. All fields are guarded by the pod's mu.
type ctrRT struct {
	spec         corev1.Container
	init         bool
	state        corev1.ContainerState
	lastState    corev1.ContainerState
	restartCount int32
	ready        bool
	started      bool
	pid          int
	exited       chan struct{} // closed when the current process has exited
	killReason   string        // why the agent stopped the process (liveness, startup probe)
	runningSince time.Time
}

func (c *ctrRT) snap() ctrSnap {
	id := ""
	if c.pid > 0 {
		id = "kfn-agent://" + strconv.Itoa(c.pid)
	}
	return ctrSnap{Name: c.spec.Name, Image: c.spec.Image, ContainerID: id, State: c.state, LastState: c.lastState,
		RestartCount: c.restartCount, Ready: c.ready, Started: c.started}
}

// podRT is a pod on this node. mu guards its fields and every status computation and send, so
// a status is always computed from the latest state and handed over in order (no stale status
// can overtake a newer one).
type podRT struct {
	p      *provider
	mu     sync.Mutex
	pod    *corev1.Pod
	key    string
	netns  string
	veth   string
	ip     netip.Addr
	dir    string
	ctx    context.Context
	cancel context.CancelFunc

	startTime    metav1.Time
	sandboxReady bool
	initDone     bool
	init         []*ctrRT
	ctrs         []*ctrRT
	stopping     bool
	terminal     bool
	reason       string
	message      string
	prevConds    []corev1.PodCondition

	volMu    sync.Mutex
	volDirs  map[string]string
	volFiles map[string]map[string]bool
	tokens   map[string]cachedToken

	loops      sync.WaitGroup // container loops
	workerDone chan struct{}
	stopOnce   sync.Once
	stopped    chan struct{}
	log        *slog.Logger
}

// persisted is what a later run of the agent needs to clean up and to keep restart counts.
type persisted struct {
	UID       string           `json:"uid"`
	Namespace string           `json:"namespace"`
	Name      string           `json:"name"`
	Netns     string           `json:"netns"`
	Veth      string           `json:"veth"`
	IP        string           `json:"ip"`
	Restarts  map[string]int32 `json:"restarts"`
	Procs     map[string]proc  `json:"procs"`
}

type proc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // start time in clock ticks (/proc/<pid>/stat field 22), to not kill a reused PID
}

func newPodRT(p *provider, pod *corev1.Pod, restored map[string]int32) *podRT {
	uid := string(pod.UID)
	short := strings.ReplaceAll(uid, "-", "")
	if len(short) > 8 {
		short = short[:8]
	}
	ctx, cancel := context.WithCancel(context.Background())
	rt := &podRT{
		p: p, pod: pod.DeepCopy(), key: pod.Namespace + "/" + pod.Name,
		netns: "kfn-pod-" + short, veth: "kfnv" + short,
		dir: filepath.Join(p.cfg.stateDir, "pods", uid), ctx: ctx, cancel: cancel,
		startTime: metav1.Now(),
		volDirs:   map[string]string{}, volFiles: map[string]map[string]bool{}, tokens: map[string]cachedToken{},
		workerDone: make(chan struct{}), stopped: make(chan struct{}),
		log: slog.With("pod", pod.Namespace+"/"+pod.Name),
	}
	for _, c := range pod.Spec.InitContainers {
		rt.init = append(rt.init, &ctrRT{spec: c, init: true, restartCount: restored[c.Name],
			state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}})
	}
	for _, c := range pod.Spec.Containers {
		rt.ctrs = append(rt.ctrs, &ctrRT{spec: c, restartCount: restored[c.Name],
			state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}})
	}
	rt.initDone = len(rt.init) == 0
	return rt
}

// podContext returns the downward-API view of the pod. Call with mu held.
func (rt *podRT) podContext() podContext {
	ip := ""
	if rt.ip.IsValid() {
		ip = rt.ip.String()
	}
	return podContext{pod: rt.pod.DeepCopy(), podIP: ip, hostIP: rt.p.cfg.nodeIP, nodeName: rt.p.cfg.nodeName,
		allocatable: rt.p.cfg.allocatable, apiHost: rt.p.cfg.apiHost, apiPort: rt.p.cfg.apiPort}
}

// sendStatus computes the pod status from the current state and hands it to virtual-kubelet.
// Call with mu held: that is what keeps the statuses of one pod in order.
func (rt *podRT) sendStatus() {
	if rt.p.shuttingDown.Load() {
		// The agent is stopping: the pods must stay non-terminal in the API so the next run starts them again.
		return
	}
	pod := rt.statusPod()
	rt.prevConds = pod.Status.Conditions
	rt.p.notify(pod)
}

// statusPod returns a copy of the pod with the status computed now. Call with mu held.
func (rt *podRT) statusPod() *corev1.Pod {
	base := rt.pod
	if cur, err := rt.p.podLister.Pods(rt.pod.Namespace).Get(rt.pod.Name); err == nil && cur.UID == rt.pod.UID {
		base = cur
	}
	s := podSnap{Pod: rt.pod, Base: base.Status, Prev: rt.prevConds, HostIP: rt.p.cfg.nodeIP,
		StartTime: &rt.startTime, SandboxReady: rt.sandboxReady, InitDone: rt.initDone, Terminal: rt.terminal,
		Reason: rt.reason, Message: rt.message, Now: metav1.Now()}
	if rt.ip.IsValid() {
		s.PodIP = rt.ip.String()
	}
	for _, c := range rt.init {
		s.Init = append(s.Init, c.snap())
	}
	for _, c := range rt.ctrs {
		s.Containers = append(s.Containers, c.snap())
	}
	out := base.DeepCopy()
	out.Status = computeStatus(s)
	return out
}

func (rt *podRT) setWaiting(c *ctrRT, reason, msg string) {
	c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
}

// run sets the pod up (network, volumes, init containers) and starts its containers.
func (rt *podRT) run() {
	defer close(rt.workerDone)
	t0 := time.Now()
	if err := os.MkdirAll(filepath.Join(rt.dir, "logs"), 0o755); err != nil {
		rt.fail("CreatePodSandboxError", err)
		return
	}
	// Network: retried until it works or the pod goes away.
	for attempt := 0; ; attempt++ {
		err := rt.setupNetwork()
		if err == nil {
			break
		}
		rt.log.Error("pod network setup failed", "err", err)
		rt.mu.Lock()
		rt.reason, rt.message = "", "network setup failed: "+err.Error()
		for _, c := range rt.ctrs {
			rt.setWaiting(c, "ContainerCreating", rt.message)
		}
		rt.sendStatus()
		rt.mu.Unlock()
		teardownPodNetwork(rt.netns, rt.veth)
		if !sleepCtx(rt.ctx, backoff(attempt)) {
			return
		}
	}
	rt.mu.Lock()
	rt.sandboxReady = true
	rt.message = ""
	rt.mu.Unlock()
	// Volumes: retried (a missing ConfigMap or Secret may appear later).
	for attempt := 0; ; attempt++ {
		err := rt.prepareVolumes(rt.ctx)
		if err == nil {
			break
		}
		rt.log.Warn("volumes not ready", "err", err)
		rt.mu.Lock()
		for _, c := range append(append([]*ctrRT{}, rt.init...), rt.ctrs...) {
			rt.setWaiting(c, "ContainerCreating", err.Error())
		}
		rt.sendStatus()
		rt.mu.Unlock()
		if !sleepCtx(rt.ctx, backoff(attempt)) {
			return
		}
	}
	rt.persist()
	go rt.refreshVolumes()
	// Init containers, one after the other, each to successful completion.
	for _, c := range rt.init {
		if !rt.runInit(c) {
			return
		}
	}
	rt.mu.Lock()
	rt.initDone = true
	if rt.stopping {
		rt.mu.Unlock()
		return
	}
	for _, c := range rt.ctrs {
		rt.loops.Add(1)
		go rt.containerLoop(c)
	}
	rt.mu.Unlock()
	rt.log.Info("pod set up", "ip", rt.ip, "netns", rt.netns, "seconds", time.Since(t0).Seconds())
}

func (rt *podRT) fail(reason string, err error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.reason, rt.message = reason, err.Error()
	rt.sendStatus()
}

func (rt *podRT) setupNetwork() error {
	ip, err := rt.p.ipam.allocate(rt.key, rt.pod.Status.PodIP)
	if err != nil {
		return err
	}
	rt.mu.Lock()
	rt.ip = ip
	rt.mu.Unlock()
	rt.persist()
	ctx, cancel := context.WithTimeout(rt.ctx, 20*time.Second)
	defer cancel()
	teardownPodNetwork(rt.netns, rt.veth) // a leftover with the same name
	if err := setupPodNetwork(ctx, rt.netns, rt.veth, ip, rt.p.ipam.gw); err != nil {
		return err
	}
	hp := hostsPod{Namespace: rt.pod.Namespace, Name: rt.pod.Name, IP: ip.String(), Hostname: rt.pod.Spec.Hostname, Subdomain: rt.pod.Spec.Subdomain}
	return rt.p.dns.add(rt.netns, hp)
}

// refreshVolumes re-renders configMap, secret, projected and downwardAPI volumes every 30 s
// (the kubelet syncs them about once a minute) and renews service account tokens at 80% of their life.
func (rt *podRT) refreshVolumes() {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-rt.ctx.Done():
			return
		case <-t.C:
			if err := rt.prepareVolumes(rt.ctx); err != nil && rt.ctx.Err() == nil {
				rt.log.Warn("volume refresh failed", "err", err)
			}
		}
	}
}

func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 5)
	return min(d, 30*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// launch is a prepared container process.
type launch struct {
	argv    []string
	env     []string
	workDir string
	mounts  []bindMount
}

// prepare resolves a container's image, command, environment and mounts. The returned reason
// is the container's waiting reason on error (ErrImagePull, CreateContainerConfigError, ...).
func (rt *podRT) prepare(c *corev1.Container) (*launch, string, error) {
	images, err := loadImages(rt.p.cfg.imagesFile)
	if err != nil {
		return nil, "ErrImagePull", err
	}
	entry, ok := images.lookup(c.Image)
	if !ok {
		return nil, "ErrImagePull", fmt.Errorf("image %q is not mapped to a local command: add an entry to %s", c.Image, rt.p.cfg.imagesFile)
	}
	rt.mu.Lock()
	pc := rt.podContext()
	rt.mu.Unlock()
	base := map[string]string{"PATH": defaultPath, "HOSTNAME": rt.pod.Name}
	if h := os.Getenv("HOME"); h != "" {
		base["HOME"] = h
	}
	env, err := pc.containerEnv(c, base, entry.Env, rt.p.objects)
	if err != nil {
		return nil, "CreateContainerConfigError", err
	}
	lookup := env.Get
	argv := containerArgv(entry, expandAll(c.Command, lookup), expandAll(c.Args, lookup))
	workDir := entry.WorkingDir
	if c.WorkingDir != "" {
		workDir = c.WorkingDir
	}
	rt.volMu.Lock()
	mounts, err := containerMounts(c, rt.pod.Spec.Volumes, rt.volDirs, lookup)
	rt.volMu.Unlock()
	if err != nil {
		return nil, "CreateContainerConfigError", err
	}
	return &launch{argv: argv, env: env.Environ(), workDir: workDir, mounts: mounts}, "", nil
}

func expandAll(in []string, lookup func(string) (string, bool)) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expandVars(s, lookup)
	}
	return out
}

// command builds the process: `ip netns exec <ns> /bin/sh -c <mounts; cd; exec "$@"> sh argv...`.
func (rt *podRT) command(ctx context.Context, l *launch) *exec.Cmd {
	args := append([]string{"netns", "exec", rt.netns, "/bin/sh", "-c", launchScript(l.mounts, l.workDir), "sh"}, l.argv...)
	var cmd *exec.Cmd
	if ctx != nil {
		cmd = exec.CommandContext(ctx, "ip", args...)
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	} else {
		cmd = exec.Command("ip", args...)
	}
	cmd.Env = l.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

func (rt *podRT) logPath(name string, restart int32) string {
	return filepath.Join(rt.dir, "logs", name, strconv.Itoa(int(restart))+".log")
}

// startProcess starts one run of a container. Call with mu NOT held.
func (rt *podRT) startProcess(c *ctrRT) (string, error) {
	l, reason, err := rt.prepare(&c.spec)
	if err != nil {
		return reason, err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.stopping {
		return "", errStopping
	}
	lp := rt.logPath(c.spec.Name, c.restartCount)
	if err := os.MkdirAll(filepath.Dir(lp), 0o755); err != nil {
		return "CreateContainerError", err
	}
	f, err := os.OpenFile(lp, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "CreateContainerError", err
	}
	defer f.Close()
	cmd := rt.command(nil, l)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return "CreateContainerError", err
	}
	c.pid = cmd.Process.Pid
	c.exited = make(chan struct{})
	c.killReason = ""
	c.ready, c.started = false, false
	c.runningSince = time.Now()
	c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.runningSince)}}
	if c.spec.StartupProbe == nil {
		c.started = true
	}
	if c.spec.ReadinessProbe == nil && c.started && !c.init {
		c.ready = true
	}
	rt.persistLocked()
	rt.sendStatus()
	exited := c.exited
	go func() {
		err := cmd.Wait()
		code := 0
		signaled := false
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
				signaled = true
			} else {
				code = ee.ExitCode()
			}
		} else if err != nil {
			code = 128
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what the container left behind in its group
		rt.mu.Lock()
		reason := "Completed"
		if code != 0 {
			reason = "Error"
		}
		if c.killReason != "" {
			reason = "Error"
		}
		msg := c.killReason
		if signaled && msg == "" && !rt.stopping {
			msg = "killed by signal"
		}
		startedAt := c.state.Running
		t := &corev1.ContainerStateTerminated{ExitCode: int32(code), Reason: reason, Message: msg,
			FinishedAt: metav1.Now(), ContainerID: "kfn-agent://" + strconv.Itoa(cmd.Process.Pid)}
		if startedAt != nil {
			t.StartedAt = startedAt.StartedAt
		}
		c.state = corev1.ContainerState{Terminated: t}
		c.ready, c.started = false, false
		rt.mu.Unlock()
		close(exited)
	}()
	rt.log.Info("container started", "container", c.spec.Name, "pid", c.pid, "argv0", l.argv[0])
	return "", nil
}

var errStopping = errors.New("pod is stopping")

// shouldRestart applies the restart policy to an exit code.
func shouldRestart(policy corev1.RestartPolicy, code int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	return true
}

// containerLoop runs a container for the pod's lifetime: start, probe, wait, restart with back-off.
func (rt *podRT) containerLoop(c *ctrRT) {
	defer rt.loops.Done()
	fails := 0
	for {
		if rt.ctx.Err() != nil {
			return
		}
		reason, err := rt.startProcess(c)
		if errors.Is(err, errStopping) {
			return
		}
		if err != nil {
			rt.log.Warn("container not started", "container", c.spec.Name, "reason", reason, "err", err)
			rt.mu.Lock()
			rt.setWaiting(c, reason, err.Error())
			rt.sendStatus()
			rt.mu.Unlock()
			if !sleepCtx(rt.ctx, backoff(fails)) {
				return
			}
			fails++
			continue
		}
		rt.mu.Lock()
		exited := c.exited
		rt.mu.Unlock()
		pctx, pcancel := context.WithCancel(rt.ctx)
		go rt.probeLoop(pctx, c, exited)
		if c.spec.Lifecycle != nil && c.spec.Lifecycle.PostStart != nil {
			go rt.postStart(pctx, c)
		}
		<-exited
		pcancel()
		rt.mu.Lock()
		t := c.state.Terminated
		if rt.stopping || t == nil {
			rt.mu.Unlock()
			return
		}
		rt.log.Info("container exited", "container", c.spec.Name, "code", t.ExitCode, "reason", t.Reason)
		if !shouldRestart(rt.pod.Spec.RestartPolicy, t.ExitCode) {
			rt.sendStatus()
			rt.mu.Unlock()
			return
		}
		ranFor := t.FinishedAt.Sub(t.StartedAt.Time)
		if ranFor > time.Minute {
			fails = 0
		}
		delay := time.Duration(0)
		if fails > 0 {
			delay = backoff(fails - 1)
		}
		fails++
		c.lastState = c.state
		c.restartCount++
		rt.setWaiting(c, "CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", delay, c.spec.Name, rt.pod.Name))
		rt.persistLocked()
		rt.sendStatus()
		rt.mu.Unlock()
		if !sleepCtx(rt.ctx, delay) {
			return
		}
	}
}

// runInit runs an init container to completion (restarting it on failure unless the policy is Never).
func (rt *podRT) runInit(c *ctrRT) bool {
	for attempt := 0; ; attempt++ {
		if rt.ctx.Err() != nil {
			return false
		}
		reason, err := rt.startProcess(c)
		if errors.Is(err, errStopping) {
			return false
		}
		if err != nil {
			rt.mu.Lock()
			rt.setWaiting(c, reason, err.Error())
			rt.sendStatus()
			rt.mu.Unlock()
			if !sleepCtx(rt.ctx, backoff(attempt)) {
				return false
			}
			continue
		}
		rt.mu.Lock()
		exited := c.exited
		rt.mu.Unlock()
		<-exited
		rt.mu.Lock()
		t := c.state.Terminated
		if rt.stopping || t == nil {
			rt.mu.Unlock()
			return false
		}
		if t.ExitCode == 0 {
			rt.sendStatus()
			rt.mu.Unlock()
			return true
		}
		if rt.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			rt.sendStatus()
			rt.mu.Unlock()
			return false
		}
		c.lastState = c.state
		c.restartCount++
		rt.setWaiting(c, "CrashLoopBackOff", "init container failed")
		rt.sendStatus()
		rt.mu.Unlock()
		if !sleepCtx(rt.ctx, backoff(attempt)) {
			return false
		}
	}
}

// execIn runs a command in a container's context (its netns, mounts, env and working directory).
func (rt *podRT) execIn(ctx context.Context, c *corev1.Container, argv []string) (string, int, error) {
	l, _, err := rt.prepare(c)
	if err != nil {
		return "", -1, err
	}
	l.argv = argv
	cmd := rt.command(ctx, l)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		if ctx.Err() != nil {
			return out.String(), -1, fmt.Errorf("command timed out: %w", ctx.Err())
		}
		return out.String(), ee.ExitCode(), nil
	}
	return out.String(), 0, err
}

// probeLoop runs the container's startup probe, then its readiness and liveness probes.
func (rt *podRT) probeLoop(ctx context.Context, c *ctrRT, exited chan struct{}) {
	rt.mu.Lock()
	spec := c.spec
	ip := rt.ip.String()
	rt.mu.Unlock()
	exe := func(ctx context.Context, cmd []string) (string, int, error) { return rt.execIn(ctx, &spec, cmd) }
	once := func(p *corev1.Probe) (bool, string) {
		return runHandler(ctx, p.ProbeHandler, ip, &spec, probeUserAgent, probeTimeout(p), exe)
	}
	if p := spec.StartupProbe; p != nil {
		if !sleepCtx(ctx, time.Duration(p.InitialDelaySeconds)*time.Second) {
			return
		}
		var cnt probeCounter
		for started := false; !started; {
			ok, msg := once(p)
			if ctx.Err() != nil {
				return
			}
			if !ok {
				cnt.observe(false, 1, 0, false)
				if cnt.failures >= max(p.FailureThreshold, 1) {
					rt.kill(c, exited, "Container failed startup probe, will be restarted: "+msg)
					return
				}
			} else {
				started = true
			}
			if !started && !sleepCtx(ctx, probePeriod(p)) {
				return
			}
		}
		rt.mu.Lock()
		if c.exited != exited || rt.stopping {
			rt.mu.Unlock()
			return
		}
		c.started = true
		if spec.ReadinessProbe == nil {
			c.ready = true
		}
		rt.sendStatus()
		rt.mu.Unlock()
	}
	if p := spec.LivenessProbe; p != nil {
		go func() {
			if !sleepCtx(ctx, time.Duration(p.InitialDelaySeconds)*time.Second) {
				return
			}
			var cnt probeCounter
			alive := true
			for {
				ok, msg := once(p)
				if ctx.Err() != nil {
					return
				}
				if alive = cnt.observe(ok, p.SuccessThreshold, p.FailureThreshold, alive); !alive {
					rt.kill(c, exited, "Container failed liveness probe, will be restarted: "+msg)
					return
				}
				if !sleepCtx(ctx, probePeriod(p)) {
					return
				}
			}
		}()
	}
	if p := spec.ReadinessProbe; p != nil {
		if !sleepCtx(ctx, time.Duration(p.InitialDelaySeconds)*time.Second) {
			return
		}
		var cnt probeCounter
		ready := false
		for {
			ok, msg := once(p)
			if ctx.Err() != nil {
				return
			}
			now := cnt.observe(ok, p.SuccessThreshold, p.FailureThreshold, ready)
			if now != ready {
				ready = now
				rt.mu.Lock()
				if c.exited != exited || rt.stopping {
					rt.mu.Unlock()
					return
				}
				c.ready = ready
				rt.log.Info("readiness changed", "container", spec.Name, "ready", ready, "msg", msg)
				rt.sendStatus()
				rt.mu.Unlock()
			}
			if !sleepCtx(ctx, probePeriod(p)) {
				return
			}
		}
	}
}

// postStart runs the postStart hook; if it fails the container is killed (and restarted per policy).
func (rt *podRT) postStart(ctx context.Context, c *ctrRT) {
	rt.mu.Lock()
	spec, exited := c.spec, c.exited
	rt.mu.Unlock()
	if ok, msg := rt.runLifecycle(ctx, spec.Lifecycle.PostStart, &spec, 30*time.Second); !ok && ctx.Err() == nil {
		rt.kill(c, exited, "PostStartHook failed: "+msg)
	}
}

func (rt *podRT) runLifecycle(ctx context.Context, h *corev1.LifecycleHandler, c *corev1.Container, timeout time.Duration) (bool, string) {
	if h.Sleep != nil {
		return sleepCtx(ctx, time.Duration(h.Sleep.Seconds)*time.Second), ""
	}
	rt.mu.Lock()
	ip := rt.ip.String()
	rt.mu.Unlock()
	ph := corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}
	exe := func(ctx context.Context, cmd []string) (string, int, error) { return rt.execIn(ctx, c, cmd) }
	return runHandler(ctx, ph, ip, c, lifecycleUserAgent, timeout, exe)
}

// kill stops the current process of a container (liveness or startup probe failure): preStop,
// SIGTERM, SIGKILL after the grace period. The container loop then restarts it.
func (rt *podRT) kill(c *ctrRT, exited chan struct{}, why string) {
	rt.mu.Lock()
	if c.exited != exited || rt.stopping {
		rt.mu.Unlock()
		return
	}
	c.killReason = why
	c.ready = false
	pid := c.pid
	spec := c.spec
	rt.sendStatus()
	rt.mu.Unlock()
	rt.log.Warn("killing container", "container", spec.Name, "why", why)
	grace := rt.graceFor(nil, false)
	deadline := time.Now().Add(grace)
	rt.terminate(&spec, pid, exited, deadline)
}

// graceFor is the termination grace period: the deletion's, else the pod's, else 30 s, capped
// by --max-grace-period (and by the shutdown cap when the agent itself stops).
func (rt *podRT) graceFor(deleted *corev1.Pod, shutdown bool) time.Duration {
	g := int64(30)
	if rt.pod.Spec.TerminationGracePeriodSeconds != nil {
		g = *rt.pod.Spec.TerminationGracePeriodSeconds
	}
	if deleted != nil && deleted.DeletionGracePeriodSeconds != nil {
		g = *deleted.DeletionGracePeriodSeconds
	}
	d := time.Duration(g) * time.Second
	d = min(d, rt.p.cfg.maxGrace)
	if shutdown {
		d = min(d, rt.p.cfg.shutdownGrace)
	}
	return max(d, 0)
}

// terminate runs the preStop hook (bounded by the deadline), then SIGTERM to the process group,
// then SIGKILL at the deadline.
func (rt *podRT) terminate(spec *corev1.Container, pid int, exited chan struct{}, deadline time.Time) {
	if spec.Lifecycle != nil && spec.Lifecycle.PreStop != nil {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if ok, msg := rt.runLifecycle(ctx, spec.Lifecycle.PreStop, spec, time.Until(deadline)); !ok {
				rt.log.Warn("preStop hook failed", "container", spec.Name, "msg", msg)
			}
		}()
		select {
		case <-done:
		case <-exited:
		case <-ctx.Done():
		}
		cancel()
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		rt.log.Warn("grace period over, killing", "container", spec.Name, "pid", pid)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
}

// stop ends the pod: every running container gets preStop + SIGTERM in parallel, SIGKILL at
// the deadline; then the network namespace goes. With final set the terminal status is sent.
func (rt *podRT) stop(deleted *corev1.Pod, shutdown bool) {
	rt.stopOnce.Do(func() {
		defer close(rt.stopped)
		rt.mu.Lock()
		rt.stopping = true
		grace := rt.graceFor(deleted, shutdown)
		deadline := time.Now().Add(grace)
		type victim struct {
			spec   corev1.Container
			pid    int
			exited chan struct{}
		}
		var victims []victim
		for _, c := range append(append([]*ctrRT{}, rt.init...), rt.ctrs...) {
			c.ready = false
			if c.state.Running != nil && c.exited != nil {
				victims = append(victims, victim{c.spec, c.pid, c.exited})
			}
		}
		rt.sendStatus()
		rt.mu.Unlock()
		rt.cancel() // probes, restarts, volume refresh and an unfinished set-up stop here
		rt.log.Info("stopping pod", "grace", grace, "containers", len(victims))
		var wg sync.WaitGroup
		for _, v := range victims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rt.terminate(&v.spec, v.pid, v.exited, deadline)
			}()
		}
		wg.Wait()
		<-rt.workerDone
		rt.loops.Wait()
		rt.mu.Lock()
		for _, c := range append(append([]*ctrRT{}, rt.init...), rt.ctrs...) {
			if c.state.Terminated == nil {
				c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
					FinishedAt: metav1.Now()}}
				if c.lastState.Terminated != nil {
					c.state.Terminated.ExitCode = c.lastState.Terminated.ExitCode
					c.state.Terminated.Reason = c.lastState.Terminated.Reason
				}
			}
		}
		rt.terminal = true
		rt.sandboxReady = false
		rt.sendStatus()
		ip := rt.ip
		rt.mu.Unlock()
		rt.p.dns.remove(rt.netns)
		teardownPodNetwork(rt.netns, rt.veth)
		if ip.IsValid() {
			rt.p.ipam.release(ip, rt.key)
		}
		if shutdown {
			_ = os.Remove(filepath.Join(rt.dir, "state.json"))
		} else {
			rt.archiveLogs()
			_ = os.RemoveAll(rt.dir)
		}
		rt.log.Info("pod stopped")
	})
	<-rt.stopped
}

// keptLogs is how many deleted pods' logs stay under <state-dir>/logs.
const keptLogs = 200

// archiveLogs moves a deleted pod's logs to <state-dir>/logs/<namespace>_<name>_<uid8>/ (so a pod
// that crashed and went away can still be read) and prunes the oldest beyond keptLogs.
func (rt *podRT) archiveLogs() {
	base := filepath.Join(rt.p.cfg.stateDir, "logs")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return
	}
	dst := filepath.Join(base, fmt.Sprintf("%s_%s_%s", rt.pod.Namespace, rt.pod.Name, strings.TrimPrefix(rt.netns, "kfn-pod-")))
	_ = os.RemoveAll(dst)
	if err := os.Rename(filepath.Join(rt.dir, "logs"), dst); err != nil {
		return
	}
	entries, err := os.ReadDir(base)
	if err != nil || len(entries) <= keptLogs {
		return
	}
	type aged struct {
		name string
		mod  time.Time
	}
	var all []aged
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			all = append(all, aged{e.Name(), fi.ModTime()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.Before(all[j].mod) })
	for _, a := range all[:max(0, len(all)-keptLogs)] {
		_ = os.RemoveAll(filepath.Join(base, a.name))
	}
}

func (rt *podRT) persist() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.persistLocked()
}

// persistLocked writes state.json (call with mu held).
func (rt *podRT) persistLocked() {
	st := persisted{UID: string(rt.pod.UID), Namespace: rt.pod.Namespace, Name: rt.pod.Name, Netns: rt.netns, Veth: rt.veth,
		Restarts: map[string]int32{}, Procs: map[string]proc{}}
	if rt.ip.IsValid() {
		st.IP = rt.ip.String()
	}
	for _, c := range append(append([]*ctrRT{}, rt.init...), rt.ctrs...) {
		st.Restarts[c.spec.Name] = c.restartCount
		if c.state.Running != nil && c.pid > 0 {
			st.Procs[c.spec.Name] = proc{PID: c.pid, Start: procStart(c.pid)}
		}
	}
	b, _ := json.Marshal(st)
	_ = os.MkdirAll(rt.dir, 0o755)
	tmp := filepath.Join(rt.dir, "state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err == nil {
		_ = os.Rename(tmp, filepath.Join(rt.dir, "state.json"))
	}
}

// procStart reads a process's start time (clock ticks since boot) from /proc/<pid>/stat.
func procStart(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return parseProcStart(string(b))
}

// parseProcStart returns field 22 of /proc/<pid>/stat (the comm field may contain spaces and parentheses).
func parseProcStart(stat string) uint64 {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// cleanupPrevious kills the processes and removes the namespaces an earlier run of the agent
// left behind (from the state directory) and returns the restart counts by pod UID.
func cleanupPrevious(stateDir string) map[string]map[string]int32 {
	out := map[string]map[string]int32{}
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "pods", "*", "state.json"))
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var st persisted
		if json.Unmarshal(b, &st) != nil {
			continue
		}
		for name, pr := range st.Procs {
			if pr.PID > 1 && pr.Start != 0 && procStart(pr.PID) == pr.Start {
				slog.Info("killing a process left by an earlier run", "pod", st.Namespace+"/"+st.Name, "container", name, "pid", pr.PID)
				_ = syscall.Kill(-pr.PID, syscall.SIGKILL)
				_ = syscall.Kill(pr.PID, syscall.SIGKILL)
			}
			if st.Restarts != nil {
				st.Restarts[name]++ // it ran and is started again: that is a restart
			}
		}
		if st.Netns != "" {
			teardownPodNetwork(st.Netns, st.Veth)
		}
		out[st.UID] = st.Restarts
		_ = os.Remove(f)
	}
	return out
}

// isGone reports whether an API error means the pod no longer exists (or is another pod now).
func isGone(err error) bool { return apierrors.IsNotFound(err) || apierrors.IsConflict(err) }
