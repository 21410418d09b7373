// Command knative-validate runs Knative Serving's own admission logic on rendered
// manifests, offline: every serving.knative.dev Service and DomainMapping found in
// the given multi-document YAML files is decoded strictly (unknown fields are an
// error, as in the webhook), defaulted with SetDefaults and validated with Validate
// inside a "create" context, exactly as the knative-serving webhook does when the
// object is first applied. Cluster ConfigMaps are not read: the built-in defaults
// of config-defaults, config-features and config-autoscaler apply, except that
// -features FILE (a YAML or JSON map, the data of config-features) sets the feature
// flags the platform configures.
//
//	knative-validate [-features FILE] MANIFEST.yaml... (- for stdin)
//
// Exit status: 0 when every object is valid with no warning, 1 when any object has
// an error or a warning (e.g. "default value is insecure"), 2 on usage or I/O errors.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/config"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingv1beta1 "knative.dev/serving/pkg/apis/serving/v1beta1"
	"sigs.k8s.io/yaml"
)

// typeMeta is enough of an object to decide which Go type decodes it.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

// validatable is what both Knative types implement.
type validatable interface {
	apis.Defaultable
	apis.Validatable
}

// result counts what was checked, for the summary line.
type result struct{ checked, failed int }

func main() {
	featuresFile := flag.String("features", "", "YAML or JSON map of config-features flags (the cluster's); default: Knative's built-in defaults")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: knative-validate [-features FILE] MANIFEST.yaml... (use - for stdin)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, err := webhookContext(*featuresFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "knative-validate: %v\n", err)
		os.Exit(2)
	}
	var total result
	for _, path := range flag.Args() {
		r, err := validateFile(ctx, path, os.Stdout)
		if err != nil {
			fmt.Fprintf(os.Stderr, "knative-validate: %s: %v\n", path, err)
			os.Exit(2)
		}
		total.checked += r.checked
		total.failed += r.failed
	}
	fmt.Printf("knative-validate: %d Knative object(s) checked, %d with errors or warnings\n", total.checked, total.failed)
	if total.failed > 0 {
		os.Exit(1)
	}
}

// webhookContext is the context the webhook validates in: a create, with the
// cluster's feature flags when given.
func webhookContext(featuresFile string) (context.Context, error) {
	ctx := apis.WithinCreate(context.Background())
	if featuresFile == "" {
		return ctx, nil
	}
	b, err := os.ReadFile(featuresFile)
	if err != nil {
		return nil, err
	}
	var data map[string]string
	if err := yaml.UnmarshalStrict(b, &data); err != nil {
		return nil, fmt.Errorf("%s: %w", featuresFile, err)
	}
	features, err := config.NewFeaturesConfigFromMap(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", featuresFile, err)
	}
	return config.ToContext(ctx, &config.Config{Features: features}), nil
}

func validateFile(ctx context.Context, path string, out io.Writer) (result, error) {
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		in = f
	}
	var r result
	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return r, nil
		}
		if err != nil {
			return r, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var tm typeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return r, fmt.Errorf("not a Kubernetes object: %w", err)
		}
		obj := newObject(tm)
		if obj == nil {
			continue
		}
		r.checked++
		id := fmt.Sprintf("%s %s/%s", tm.APIVersion, tm.Kind, tm.Metadata.Name)
		if !check(ctx, id, doc, obj, out) {
			r.failed++
		}
	}
}

func newObject(tm typeMeta) validatable {
	switch {
	case tm.APIVersion == "serving.knative.dev/v1" && tm.Kind == "Service":
		return &servingv1.Service{}
	case tm.APIVersion == "serving.knative.dev/v1beta1" && tm.Kind == "DomainMapping":
		return &servingv1beta1.DomainMapping{}
	}
	return nil
}

// check decodes, defaults and validates one object and prints every finding.
func check(ctx context.Context, id string, doc []byte, obj validatable, out io.Writer) bool {
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		fmt.Fprintf(out, "ERROR %s: decode: %v\n", id, err)
		return false
	}
	obj.SetDefaults(ctx)
	fe := obj.Validate(ctx)
	ok := true
	if errs := fe.Filter(apis.ErrorLevel); errs != nil {
		fmt.Fprintf(out, "ERROR %s: %v\n", id, errs)
		ok = false
	}
	if warns := fe.Filter(apis.WarningLevel); warns != nil {
		fmt.Fprintf(out, "WARNING %s: %v\n", id, warns)
		ok = false
	}
	if ok {
		fmt.Fprintf(out, "OK %s\n", id)
	}
	return ok
}
