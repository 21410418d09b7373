package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// file is one file of a configMap/secret/projected/downwardAPI volume.
type file struct {
	Data []byte
	Mode os.FileMode
}

func fileMode(item *int32, def *int32, fallback os.FileMode) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item)
	case def != nil:
		return os.FileMode(*def)
	}
	return fallback
}

// keyFiles selects the files of a ConfigMap or Secret: every key, or only the listed items.
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, defMode *int32, kind, name string, opt bool) (map[string]file, error) {
	out := map[string]file{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = file{Data: v, Mode: fileMode(nil, defMode, 0o644)}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if opt {
				continue
			}
			return nil, fmt.Errorf("%s %q has no key %q", kind, name, it.Key)
		}
		out[it.Path] = file{Data: v, Mode: fileMode(it.Mode, defMode, 0o644)}
	}
	return out, nil
}

func configMapData(cm *corev1.ConfigMap) map[string][]byte {
	d := map[string][]byte{}
	for k, v := range cm.Data {
		d[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		d[k] = v
	}
	return d
}

// downwardFiles renders downwardAPI items (fieldRef and resourceFieldRef).
func (pc *podContext) downwardFiles(items []corev1.DownwardAPIVolumeFile, defMode *int32) (map[string]file, error) {
	out := map[string]file{}
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = pc.fieldValue(it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			v, err = pc.resourceValue(it.ResourceFieldRef, nil)
		default:
			err = fmt.Errorf("downwardAPI item %q has neither fieldRef nor resourceFieldRef", it.Path)
		}
		if err != nil {
			return nil, err
		}
		out[it.Path] = file{Data: []byte(v), Mode: fileMode(it.Mode, defMode, 0o644)}
	}
	return out, nil
}

// writeFiles writes a volume's files (each atomically: a reader never sees half a token) and
// removes files that are no longer part of it.
func writeFiles(dir string, files map[string]file, prev map[string]bool) (map[string]bool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	now := map[string]bool{}
	for _, n := range names {
		clean := filepath.Clean("/" + n)[1:]
		if clean == "" || strings.HasPrefix(clean, "..") {
			return nil, fmt.Errorf("volume file path %q leaves the volume", n)
		}
		p := filepath.Join(dir, clean)
		if old, err := os.ReadFile(p); err == nil && string(old) == string(files[n].Data) {
			_ = os.Chmod(p, files[n].Mode)
			now[clean] = true
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		tmp := filepath.Join(filepath.Dir(p), ".."+filepath.Base(p)+".tmp")
		if err := os.WriteFile(tmp, files[n].Data, files[n].Mode); err != nil {
			return nil, err
		}
		_ = os.Chmod(tmp, files[n].Mode)
		if err := os.Rename(tmp, p); err != nil {
			return nil, err
		}
		now[clean] = true
	}
	for n := range prev {
		if !now[n] {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	return now, nil
}

type cachedToken struct {
	token   string
	refresh time.Time
}

// volumeKind says how a volume is materialised; the returned bool says whether it is always
// mounted read-only (configMap, secret, projected and downwardAPI are, as in the kubelet).
func volumeKind(v *corev1.Volume) (string, bool) {
	switch {
	case v.EmptyDir != nil:
		return "emptyDir", false
	case v.HostPath != nil:
		return "hostPath", false
	case v.ConfigMap != nil:
		return "configMap", true
	case v.Secret != nil:
		return "secret", true
	case v.Projected != nil:
		return "projected", true
	case v.DownwardAPI != nil:
		return "downwardAPI", true
	}
	return "", false
}

// volumeFiles renders the files of a configMap, secret, projected or downwardAPI volume.
func (rt *podRT) volumeFiles(ctx context.Context, v *corev1.Volume, pc *podContext) (map[string]file, error) {
	ns := rt.pod.Namespace
	src := rt.p.objects
	switch {
	case v.ConfigMap != nil:
		cm, err := src.ConfigMap(ns, v.ConfigMap.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(v.ConfigMap.Optional) {
				return map[string]file{}, nil
			}
			return nil, fmt.Errorf("configmap %q: %w", v.ConfigMap.Name, err)
		}
		return keyFiles(configMapData(cm), v.ConfigMap.Items, v.ConfigMap.DefaultMode, "configmap", cm.Name, optional(v.ConfigMap.Optional))
	case v.Secret != nil:
		s, err := src.Secret(ns, v.Secret.SecretName)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(v.Secret.Optional) {
				return map[string]file{}, nil
			}
			return nil, fmt.Errorf("secret %q: %w", v.Secret.SecretName, err)
		}
		return keyFiles(s.Data, v.Secret.Items, v.Secret.DefaultMode, "secret", s.Name, optional(v.Secret.Optional))
	case v.DownwardAPI != nil:
		return pc.downwardFiles(v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
	case v.Projected != nil:
		out := map[string]file{}
		def := v.Projected.DefaultMode
		for i, s := range v.Projected.Sources {
			var part map[string]file
			var err error
			switch {
			case s.ConfigMap != nil:
				var cm *corev1.ConfigMap
				cm, err = src.ConfigMap(ns, s.ConfigMap.Name)
				if err != nil {
					if apierrors.IsNotFound(err) && optional(s.ConfigMap.Optional) {
						continue
					}
					return nil, fmt.Errorf("projected configmap %q: %w", s.ConfigMap.Name, err)
				}
				part, err = keyFiles(configMapData(cm), s.ConfigMap.Items, def, "configmap", cm.Name, optional(s.ConfigMap.Optional))
			case s.Secret != nil:
				var sec *corev1.Secret
				sec, err = src.Secret(ns, s.Secret.Name)
				if err != nil {
					if apierrors.IsNotFound(err) && optional(s.Secret.Optional) {
						continue
					}
					return nil, fmt.Errorf("projected secret %q: %w", s.Secret.Name, err)
				}
				part, err = keyFiles(sec.Data, s.Secret.Items, def, "secret", sec.Name, optional(s.Secret.Optional))
			case s.DownwardAPI != nil:
				part, err = pc.downwardFiles(s.DownwardAPI.Items, def)
			case s.ServiceAccountToken != nil:
				var tok string
				tok, err = rt.serviceAccountToken(ctx, fmt.Sprintf("%s/%d", v.Name, i), s.ServiceAccountToken)
				part = map[string]file{s.ServiceAccountToken.Path: {Data: []byte(tok), Mode: fileMode(nil, def, 0o644)}}
			default:
				err = fmt.Errorf("projected volume %q: source %d is not supported by kfn-agent (clusterTrustBundle, podCertificate)", v.Name, i)
			}
			if err != nil {
				return nil, err
			}
			for k, f := range part {
				out[k] = f
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("volume %q has no file source", v.Name)
}

// serviceAccountToken returns a bound token for the pod's ServiceAccount from the TokenRequest
// API, cached until 80% of its lifetime has passed (as the kubelet refreshes them).
func (rt *podRT) serviceAccountToken(ctx context.Context, key string, p *corev1.ServiceAccountTokenProjection) (string, error) {
	if c, ok := rt.tokens[key]; ok && time.Now().Before(c.refresh) {
		return c.token, nil
	}
	exp := int64(3607)
	if p.ExpirationSeconds != nil && *p.ExpirationSeconds > 0 {
		exp = *p.ExpirationSeconds
	}
	var aud []string
	if p.Audience != "" {
		aud = []string{p.Audience}
	}
	sa := rt.pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr, err := rt.p.client.CoreV1().ServiceAccounts(rt.pod.Namespace).CreateToken(ctx, sa, &authv1.TokenRequest{
		Spec: authv1.TokenRequestSpec{
			Audiences:         aud,
			ExpirationSeconds: &exp,
			BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: rt.pod.Name, UID: rt.pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for service account %s/%s: %w", rt.pod.Namespace, sa, err)
	}
	issued := time.Now()
	life := tr.Status.ExpirationTimestamp.Sub(issued)
	if life <= 0 {
		life = time.Duration(exp) * time.Second
	}
	rt.tokens[key] = cachedToken{token: tr.Status.Token, refresh: issued.Add(life * 8 / 10)}
	return tr.Status.Token, nil
}

// prepareVolumes creates or refreshes every volume of the pod under its state directory.
// Called with rt.mu NOT held (it calls the API server); it only touches volume bookkeeping,
// which is owned by the pod's worker and refresher goroutines (serialised by volMu).
func (rt *podRT) prepareVolumes(ctx context.Context) error {
	rt.volMu.Lock()
	defer rt.volMu.Unlock()
	rt.mu.Lock()
	pc := rt.podContext()
	rt.mu.Unlock()
	for i := range pc.pod.Spec.Volumes {
		v := &pc.pod.Spec.Volumes[i]
		kind, _ := volumeKind(v)
		switch kind {
		case "emptyDir":
			d := filepath.Join(rt.dir, "volumes", v.Name)
			if err := os.MkdirAll(d, 0o777); err != nil {
				return err
			}
			_ = os.Chmod(d, 0o777)
			rt.volDirs[v.Name] = d
		case "hostPath":
			hp := v.HostPath
			if hp.Type != nil && (*hp.Type == corev1.HostPathDirectoryOrCreate) {
				if err := os.MkdirAll(hp.Path, 0o755); err != nil {
					return err
				}
			}
			if _, err := os.Stat(hp.Path); err != nil {
				return fmt.Errorf("hostPath volume %q: %w", v.Name, err)
			}
			rt.volDirs[v.Name] = hp.Path
		case "configMap", "secret", "projected", "downwardAPI":
			files, err := rt.volumeFiles(ctx, v, &pc)
			if err != nil {
				return fmt.Errorf("MountVolume.SetUp failed for volume %q: %w", v.Name, err)
			}
			d := filepath.Join(rt.dir, "volumes", v.Name)
			written, err := writeFiles(d, files, rt.volFiles[v.Name])
			if err != nil {
				return fmt.Errorf("volume %q: %w", v.Name, err)
			}
			rt.volFiles[v.Name] = written
			rt.volDirs[v.Name] = d
		default:
			return fmt.Errorf("volume %q: this volume type is not supported by kfn-agent (emptyDir, hostPath, configMap, secret, projected and downwardAPI are)", v.Name)
		}
	}
	return nil
}

// bindMount is one mount in a container's mount namespace.
type bindMount struct {
	Source, Target string
	ReadOnly, File bool
}

// containerMounts lists the bind mounts of a container's volumeMounts.
func containerMounts(c *corev1.Container, volumes []corev1.Volume, volDirs map[string]string, env func(string) (string, bool)) ([]bindMount, error) {
	var out []bindMount
	for _, m := range c.VolumeMounts {
		var vol *corev1.Volume
		for i := range volumes {
			if volumes[i].Name == m.Name {
				vol = &volumes[i]
			}
		}
		if vol == nil {
			return nil, fmt.Errorf("volumeMount %q names no volume of the pod", m.Name)
		}
		dir, ok := volDirs[m.Name]
		if !ok {
			return nil, fmt.Errorf("volume %q is not ready", m.Name)
		}
		_, alwaysRO := volumeKind(vol)
		src := dir
		sub := m.SubPath
		if m.SubPathExpr != "" {
			sub = expandVars(m.SubPathExpr, env)
		}
		if sub != "" {
			clean := filepath.Clean("/" + sub)[1:]
			if strings.HasPrefix(clean, "..") {
				return nil, fmt.Errorf("subPath %q leaves volume %q", sub, m.Name)
			}
			src = filepath.Join(dir, clean)
		}
		isFile := false
		if fi, err := os.Stat(src); err == nil {
			isFile = !fi.IsDir()
		} else if sub != "" {
			if err := os.MkdirAll(src, 0o755); err != nil {
				return nil, err
			}
		}
		out = append(out, bindMount{Source: src, Target: m.MountPath, ReadOnly: m.ReadOnly || alwaysRO, File: isFile})
	}
	return out, nil
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// launchScript is the /bin/sh script that runs inside `ip netns exec` (which has already given
// the process its own mount namespace with /etc/hosts and /etc/resolv.conf from /etc/netns):
// bind-mount the volumes, change to the working directory, exec the container's command ("$@").
func launchScript(mounts []bindMount, workDir string) string {
	var parts []string
	parts = append(parts, "set -e")
	for _, m := range mounts {
		t := shellQuote(m.Target)
		if m.File {
			parts = append(parts, fmt.Sprintf("mkdir -p %s", shellQuote(filepath.Dir(m.Target))),
				fmt.Sprintf("[ -e %s ] || : > %s", t, t))
		} else {
			parts = append(parts, "mkdir -p "+t)
		}
		parts = append(parts, fmt.Sprintf("mount --bind %s %s", shellQuote(m.Source), t))
		if m.ReadOnly {
			parts = append(parts, fmt.Sprintf("mount -o remount,bind,ro %s", t))
		}
	}
	if workDir != "" {
		parts = append(parts, "mkdir -p "+shellQuote(workDir), "cd "+shellQuote(workDir))
	}
	parts = append(parts, `exec "$@"`)
	return strings.Join(parts, "\n")
}
