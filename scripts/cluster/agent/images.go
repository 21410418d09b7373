package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// imageEntry maps a container image reference to a local command.
type imageEntry struct {
	Match      string            `json:"match"`
	Command    []string          `json:"command"`
	WorkingDir string            `json:"workingDir,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
}

type imageMap struct {
	Images []imageEntry `json:"images"`
}

// loadImages reads the --images file. It is read again for every container start, so a mapping
// added while a container waits with ErrImagePull is picked up without restarting the agent.
func loadImages(path string) (*imageMap, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the image map %s: %w (pass --images <file.json>)", path, err)
	}
	var m imageMap
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse the image map %s: %w", path, err)
	}
	for i, e := range m.Images {
		if e.Match == "" || len(e.Command) == 0 {
			return nil, fmt.Errorf("image map %s: entry %d needs both \"match\" and a non-empty \"command\"", path, i)
		}
	}
	return &m, nil
}

// stripDigest drops an "@sha256:..." suffix: Knative resolves tags to digests in the Revision.
func stripDigest(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i]
	}
	return ref
}

// lookup finds the entry for an image: an exact match wins over a prefix ("...*") match; among
// prefix matches the longest prefix wins. References compare without their digest. In the entry of
// a prefix match, ${MATCH} in the command and workingDir stands for what the * matched (a tag, so
// one entry serves every build of an image).
func (m *imageMap) lookup(image string) (*imageEntry, bool) {
	e, ok := m.find(image)
	if !ok {
		return nil, false
	}
	prefix, isPrefix := strings.CutSuffix(stripDigest(e.Match), "*")
	if !isPrefix {
		return e, true
	}
	matched := strings.TrimPrefix(stripDigest(image), prefix)
	out := *e
	out.Command = make([]string, len(e.Command))
	for i, c := range e.Command {
		out.Command[i] = strings.ReplaceAll(c, "${MATCH}", matched)
	}
	out.WorkingDir = strings.ReplaceAll(e.WorkingDir, "${MATCH}", matched)
	return &out, true
}

func (m *imageMap) find(image string) (*imageEntry, bool) {
	if m == nil {
		return nil, false
	}
	ref := stripDigest(image)
	var best *imageEntry
	bestLen := -1
	for i := range m.Images {
		e := &m.Images[i]
		match := stripDigest(e.Match)
		if prefix, ok := strings.CutSuffix(match, "*"); ok {
			if strings.HasPrefix(ref, prefix) && len(prefix) > bestLen {
				best, bestLen = e, len(prefix)
			}
			continue
		}
		if match == ref || match == image {
			return e, true
		}
	}
	return best, best != nil
}

// containerArgv applies Kubernetes semantics to a mapped image: the pod's command replaces the
// mapped command, and the pod's args are appended (to the pod's command or the mapped one).
func containerArgv(e *imageEntry, command, args []string) []string {
	var argv []string
	if len(command) > 0 {
		argv = append(argv, command...)
	} else {
		argv = append(argv, e.Command...)
	}
	return append(argv, args...)
}
