package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestImageLookup(t *testing.T) {
	m := &imageMap{Images: []imageEntry{
		{Match: "ko://knative.dev/serving/cmd/controller", Command: []string{"/bin/controller"}},
		{Match: "dev.local/fn:*", Command: []string{"/node", "/dist/server.js"}},
		{Match: "dev.local/*", Command: []string{"/generic"}},
	}}
	cases := []struct {
		image string
		want  string // first command element, "" for no match
	}{
		{"ko://knative.dev/serving/cmd/controller", "/bin/controller"},
		{"ko://knative.dev/serving/cmd/controller@sha256:abcd", "/bin/controller"},
		{"ko://knative.dev/serving/cmd/controllerX", ""},
		{"dev.local/fn:dev", "/node"},             // longest prefix wins over dev.local/*
		{"dev.local/fn:dev@sha256:0123", "/node"}, // digest ignored
		{"dev.local/other:1", "/generic"},
		{"docker.io/library/nginx:1", ""},
	}
	for _, c := range cases {
		e, ok := m.lookup(c.image)
		got := ""
		if ok {
			got = e.Command[0]
		}
		if got != c.want {
			t.Errorf("lookup(%q) = %q, want %q", c.image, got, c.want)
		}
	}
}

func TestContainerArgv(t *testing.T) {
	e := &imageEntry{Command: []string{"/node", "/dist/server.js"}}
	if got := containerArgv(e, nil, nil); !reflect.DeepEqual(got, []string{"/node", "/dist/server.js"}) {
		t.Errorf("mapped only: %v", got)
	}
	if got := containerArgv(e, nil, []string{"--port", "8080"}); !reflect.DeepEqual(got, []string{"/node", "/dist/server.js", "--port", "8080"}) {
		t.Errorf("args appended: %v", got)
	}
	if got := containerArgv(e, []string{"/bin/sh", "-c"}, []string{"echo hi"}); !reflect.DeepEqual(got, []string{"/bin/sh", "-c", "echo hi"}) {
		t.Errorf("command replaces: %v", got)
	}
}

func TestLoadImagesValidates(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "images.json")
	if err := os.WriteFile(p, []byte(`{"images":[{"match":"a","command":[]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadImages(p); err == nil {
		t.Error("an entry without a command must be rejected")
	}
	if err := os.WriteFile(p, []byte(`{"images":[{"match":"a:*","command":["/x"],"workingDir":"/w","env":{"A":"1"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := loadImages(p)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := m.lookup("a:1"); !ok || e.WorkingDir != "/w" || e.Env["A"] != "1" {
		t.Errorf("loaded entry: %+v", e)
	}
	if _, err := loadImages(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file must be an error")
	}
}

func TestImageLookupSubstitutesMatch(t *testing.T) {
	m := &imageMap{Images: []imageEntry{
		{Match: "dev.local/fn:*", Command: []string{"/images/fn/${MATCH}/node", "dist/server.js"}, WorkingDir: "/images/fn/${MATCH}"},
		{Match: "ko://x", Command: []string{"/bin/${MATCH}"}},
	}}
	e, ok := m.lookup("dev.local/fn:sha-1234@sha256:abcd")
	if !ok {
		t.Fatal("no match")
	}
	if want := []string{"/images/fn/sha-1234/node", "dist/server.js"}; !reflect.DeepEqual(e.Command, want) {
		t.Errorf("command %v, want %v", e.Command, want)
	}
	if e.WorkingDir != "/images/fn/sha-1234" {
		t.Errorf("workingDir %q", e.WorkingDir)
	}
	if m.Images[0].Command[0] != "/images/fn/${MATCH}/node" {
		t.Errorf("the map itself was changed: %q", m.Images[0].Command[0])
	}
	if e, _ := m.lookup("ko://x"); e.Command[0] != "/bin/${MATCH}" {
		t.Errorf("an exact match is not substituted: %q", e.Command[0])
	}
}
