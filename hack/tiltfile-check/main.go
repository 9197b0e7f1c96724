// Command tiltfile-check executes a Tiltfile the way `tilt up` loads it, without Tilt, Docker or a
// cluster: the Tiltfile runs in Starlark (Tilt's dialect) against stubs of the Tilt builtins it may use.
// Each stub takes Tilt's own parameter names, so a misspelled or unknown argument fails as it would in
// Tilt, and records its call; a builtin that is not stubbed is an undefined name, which fails too.
// kustomize() really renders, with `kubectl kustomize`. The calls are printed as JSON for a test to check
// against the repository (hack/testenv/test/tiltfile.test.ts).
//
//	tiltfile-check [-kubectl PATH] [-context NAME] [-config KEY=VALUE]... [Tiltfile]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
	"go.yaml.in/yaml/v3"
)

// call is one recorded builtin call: its name and its arguments by Tilt's parameter names.
type call struct {
	Fn   string         `json:"fn"`
	Args map[string]any `json:"args"`
}

// object is the value a builtin returns for the Tiltfile to pass on (a live update step, a port
// forward, a kustomize Blob); it carries the call that made it, and a Blob's text.
type object struct {
	kind string
	call call
	text string
}

func (o *object) String() string {
	if o.kind == "blob" {
		return o.text
	}
	return o.call.Fn + "(...)"
}
func (o *object) Type() string          { return o.kind }
func (o *object) Freeze()               {}
func (o *object) Truth() starlark.Bool  { return true }
func (o *object) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: %s", o.kind) }

func (o *object) MarshalJSON() ([]byte, error) {
	m := map[string]any{"fn": o.call.Fn, "args": o.call.Args}
	if o.kind == "blob" {
		m["text"] = o.text
	}
	return json.Marshal(m)
}

// toJSON converts a Starlark value to something encoding/json prints faithfully.
func toJSON(v starlark.Value) (any, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.Int:
		i, ok := v.Int64()
		if !ok {
			return nil, fmt.Errorf("integer out of range: %s", v)
		}
		return i, nil
	case starlark.String:
		return string(v), nil
	case *object:
		return v, nil
	case *starlark.Dict:
		m := map[string]any{}
		for _, item := range v.Items() {
			k, ok := item[0].(starlark.String)
			if !ok {
				return nil, fmt.Errorf("dict key %s is not a string", item[0])
			}
			val, err := toJSON(item[1])
			if err != nil {
				return nil, err
			}
			m[string(k)] = val
		}
		return m, nil
	case starlark.Indexable: // list, tuple
		out := make([]any, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			val, err := toJSON(v.Index(i))
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot record a %s", v.Type())
}

// fromYAML converts a decoded YAML value to Starlark, as Tilt's decode_yaml does.
func fromYAML(v any) (starlark.Value, error) {
	switch v := v.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(v), nil
	case int:
		return starlark.MakeInt(v), nil
	case int64:
		return starlark.MakeInt64(v), nil
	case uint64:
		return starlark.MakeUint64(v), nil
	case float64:
		return starlark.Float(v), nil
	case string:
		return starlark.String(v), nil
	case []any:
		items := make([]starlark.Value, 0, len(v))
		for _, item := range v {
			sv, err := fromYAML(item)
			if err != nil {
				return nil, err
			}
			items = append(items, sv)
		}
		return starlark.NewList(items), nil
	case map[string]any:
		d := starlark.NewDict(len(v))
		for k, item := range v {
			sv, err := fromYAML(item)
			if err != nil {
				return nil, err
			}
			if err := d.SetKey(starlark.String(k), sv); err != nil {
				return nil, err
			}
		}
		return d, nil
	}
	// Timestamps and other scalars: as written.
	return starlark.String(fmt.Sprint(v)), nil
}

type checker struct {
	dir     string // the Tiltfile's directory: Tilt resolves relative paths against it
	kubectl string
	context string
	config  map[string]string
	calls   []call
}

// params is a Tilt builtin's parameter list: the first `required` are mandatory.
type params struct {
	names    []string
	required int
}

// bind matches arguments to parameters as Tilt (Starlark) does, failing on unknown, repeated or
// missing ones.
func bind(fn string, p params, args starlark.Tuple, kwargs []starlark.Tuple) (map[string]starlark.Value, error) {
	if len(args) > len(p.names) {
		return nil, fmt.Errorf("%s: got %d positional arguments, want at most %d", fn, len(args), len(p.names))
	}
	got := map[string]starlark.Value{}
	for i, a := range args {
		got[p.names[i]] = a
	}
	for _, kv := range kwargs {
		name := string(kv[0].(starlark.String))
		known := false
		for _, n := range p.names {
			known = known || n == name
		}
		if !known {
			return nil, fmt.Errorf("%s: unexpected keyword argument %q", fn, name)
		}
		if _, dup := got[name]; dup {
			return nil, fmt.Errorf("%s: got multiple values for %q", fn, name)
		}
		got[name] = kv[1]
	}
	for _, n := range p.names[:p.required] {
		if _, ok := got[n]; !ok {
			return nil, fmt.Errorf("%s: missing argument %q", fn, n)
		}
	}
	return got, nil
}

// builtin makes a recording stub. `then` may validate the arguments and returns the call's value
// (None if nil).
func (c *checker) builtin(fn string, p params, then func(args map[string]starlark.Value, rec call) (starlark.Value, error)) *starlark.Builtin {
	name := fn[strings.LastIndex(fn, ".")+1:]
	return starlark.NewBuiltin(name, func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		bound, err := bind(fn, p, args, kwargs)
		if err != nil {
			return nil, err
		}
		rec := call{Fn: fn, Args: map[string]any{}}
		for k, v := range bound {
			if rec.Args[k], err = toJSON(v); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", fn, k, err)
			}
		}
		c.calls = append(c.calls, rec)
		if then == nil {
			return starlark.None, nil
		}
		v, err := then(bound, rec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fn, err)
		}
		if v == nil {
			v = starlark.None
		}
		return v, nil
	})
}

func ps(required int, names ...string) params { return params{names: names, required: required} }

func str(v starlark.Value) string {
	s, _ := starlark.AsString(v)
	return s
}

func (c *checker) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(c.dir, p)
}

func isUnder(child, parent string) bool {
	rel, err := filepath.Rel(parent, child)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// liveUpdate checks what Tilt checks when it loads a docker_build's live_update: only step values,
// fall_back_on first, syncs before runs, absolute container paths, local paths inside the context.
func (c *checker) liveUpdate(v starlark.Value, context string) error {
	list, ok := v.(starlark.Indexable)
	if _, isString := v.(starlark.String); !ok || isString {
		return fmt.Errorf("live_update must be a list of steps, got %s", v.Type())
	}
	order := map[string]int{"fall_back_on": 0, "sync": 1, "run": 2}
	last := 0
	for i := 0; i < list.Len(); i++ {
		step, ok := list.Index(i).(*object)
		if !ok || step.kind != "live_update_step" {
			return fmt.Errorf("live_update[%d] is a %s, not a live update step", i, list.Index(i).Type())
		}
		if order[step.call.Fn] < last {
			return fmt.Errorf("live_update[%d]: %s cannot follow a later kind of step", i, step.call.Fn)
		}
		last = order[step.call.Fn]
		if step.call.Fn == "sync" {
			local, remote := step.call.Args["local_path"].(string), step.call.Args["remote_path"].(string)
			if !strings.HasPrefix(remote, "/") {
				return fmt.Errorf("sync(%q, %q): the container path must be absolute", local, remote)
			}
			if !isUnder(c.abs(local), c.abs(context)) {
				return fmt.Errorf("sync(%q, ...): not inside the build context %q", local, context)
			}
		}
	}
	return nil
}

func (c *checker) predeclared() starlark.StringDict {
	step := func(args map[string]starlark.Value, rec call) (starlark.Value, error) {
		return &object{kind: "live_update_step", call: rec}, nil
	}
	config := map[string]starlark.Value{}
	defineConfig := func(empty starlark.Value) func(map[string]starlark.Value, call) (starlark.Value, error) {
		return func(args map[string]starlark.Value, _ call) (starlark.Value, error) {
			name := str(args["name"])
			value, given := c.config[name]
			switch {
			case !given:
				config[name] = empty
			case empty == starlark.False:
				config[name] = starlark.Bool(value == "true")
			case empty == starlark.None:
				config[name] = starlark.String(value)
			default:
				var items []starlark.Value
				for _, s := range strings.Split(value, ",") {
					items = append(items, starlark.String(s))
				}
				config[name] = starlark.NewList(items)
			}
			return nil, nil
		}
	}
	return starlark.StringDict{
		"TRIGGER_MODE_AUTO":   starlark.String("TRIGGER_MODE_AUTO"),
		"TRIGGER_MODE_MANUAL": starlark.String("TRIGGER_MODE_MANUAL"),
		"fail": starlark.NewBuiltin("fail", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			return nil, fmt.Errorf("fail: %s", args)
		}),
		"allow_k8s_contexts": c.builtin("allow_k8s_contexts", ps(1, "contexts"), nil),
		"k8s_context": c.builtin("k8s_context", ps(0), func(map[string]starlark.Value, call) (starlark.Value, error) {
			return starlark.String(c.context), nil
		}),
		"update_settings": c.builtin("update_settings", ps(0, "max_parallel_updates", "k8s_upsert_timeout_secs", "suppress_unused_image_warnings"), nil),
		"watch_file":      c.builtin("watch_file", ps(1, "file_path"), nil),
		"docker_build": c.builtin("docker_build",
			ps(2, "ref", "context", "build_args", "dockerfile", "dockerfile_contents", "live_update", "match_in_env_vars",
				"ignore", "only", "entrypoint", "target", "ssh", "network", "secret", "extra_tag", "container_args",
				"cache_from", "pull", "platform", "extra_hosts"),
			func(args map[string]starlark.Value, _ call) (starlark.Value, error) {
				if lu, ok := args["live_update"]; ok {
					return nil, c.liveUpdate(lu, str(args["context"]))
				}
				return nil, nil
			}),
		"sync":         c.builtin("sync", ps(2, "local_path", "remote_path"), step),
		"run":          c.builtin("run", ps(1, "cmd", "trigger", "echo_off"), step),
		"fall_back_on": c.builtin("fall_back_on", ps(1, "files"), step),
		// Tilt accepts it only for Docker Compose; with Kubernetes it never restarts the process.
		"restart_container": starlark.NewBuiltin("restart_container", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			return nil, fmt.Errorf("restart_container() works with Docker Compose only, not Kubernetes resources: restart the process in the container instead")
		}),
		"k8s_yaml": c.builtin("k8s_yaml", ps(1, "yaml", "allow_duplicates"), nil),
		"kustomize": c.builtin("kustomize", ps(1, "pathToDir", "kustomize_bin", "flags"),
			func(args map[string]starlark.Value, rec call) (starlark.Value, error) {
				cmdArgs := []string{"kustomize", c.abs(str(args["pathToDir"]))}
				if flags, ok := args["flags"].(*starlark.List); ok {
					for i := 0; i < flags.Len(); i++ {
						cmdArgs = append(cmdArgs, str(flags.Index(i)))
					}
				}
				cmd := exec.Command(c.kubectl, cmdArgs...)
				cmd.Dir = c.dir
				cmd.Stderr = os.Stderr
				out, err := cmd.Output()
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", c.kubectl, strings.Join(cmdArgs, " "), err)
				}
				return &object{kind: "blob", call: rec, text: string(out)}, nil
			}),
		"decode_yaml_stream": c.builtin("decode_yaml_stream", ps(1, "yaml"), func(args map[string]starlark.Value, _ call) (starlark.Value, error) {
			text, ok := starlark.AsString(args["yaml"])
			if o, isBlob := args["yaml"].(*object); isBlob && o.kind == "blob" {
				text, ok = o.text, true
			}
			if !ok {
				return nil, fmt.Errorf("yaml must be a string or Blob, got %s", args["yaml"].Type())
			}
			var docs []starlark.Value
			dec := yaml.NewDecoder(strings.NewReader(text))
			for {
				var doc any
				if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					return nil, err
				}
				if doc == nil {
					continue
				}
				sv, err := fromYAML(doc)
				if err != nil {
					return nil, err
				}
				docs = append(docs, sv)
			}
			return starlark.NewList(docs), nil
		}),
		"k8s_resource": c.builtin("k8s_resource",
			ps(0, "workload", "new_name", "port_forwards", "extra_pod_selectors", "trigger_mode", "resource_deps", "objects",
				"auto_init", "pod_readiness", "links", "labels", "discovery_strategy"),
			func(args map[string]starlark.Value, _ call) (starlark.Value, error) {
				if str(args["workload"]) == "" && (str(args["new_name"]) == "" || args["objects"] == nil) {
					return nil, fmt.Errorf("needs a workload, or new_name and objects")
				}
				return nil, nil
			}),
		"port_forward": c.builtin("port_forward", ps(1, "local_port", "container_port", "name", "link_path", "host"),
			func(_ map[string]starlark.Value, rec call) (starlark.Value, error) {
				return &object{kind: "PortForward", call: rec}, nil
			}),
		"link": c.builtin("link", ps(1, "url", "name"), func(_ map[string]starlark.Value, rec call) (starlark.Value, error) {
			return &object{kind: "Link", call: rec}, nil
		}),
		"local_resource": c.builtin("local_resource",
			ps(1, "name", "cmd", "deps", "trigger_mode", "resource_deps", "ignore", "auto_init", "serve_cmd", "cmd_bat",
				"serve_cmd_bat", "allow_parallel", "links", "tags", "env", "serve_env", "readiness_probe", "dir",
				"serve_dir", "labels"), nil),
		// This process's environment, as Tilt's os.getenv reads its own.
		"os": &starlarkstruct.Module{Name: "os", Members: starlark.StringDict{
			"getenv": c.builtin("os.getenv", ps(1, "key", "default"), func(args map[string]starlark.Value, _ call) (starlark.Value, error) {
				if v, ok := os.LookupEnv(str(args["key"])); ok {
					return starlark.String(v), nil
				}
				if d, ok := args["default"]; ok {
					return d, nil
				}
				return starlark.None, nil
			}),
		}},
		"config": &starlarkstruct.Module{Name: "config", Members: starlark.StringDict{
			"define_string":      c.builtin("config.define_string", ps(1, "name", "args", "usage"), defineConfig(starlark.None)),
			"define_string_list": c.builtin("config.define_string_list", ps(1, "name", "args", "usage"), defineConfig(starlark.NewList(nil))),
			"define_bool":        c.builtin("config.define_bool", ps(1, "name", "args", "usage"), defineConfig(starlark.False)),
			"parse": c.builtin("config.parse", ps(0), func(map[string]starlark.Value, call) (starlark.Value, error) {
				d := starlark.NewDict(len(config))
				for k, v := range config {
					_ = d.SetKey(starlark.String(k), v)
				}
				return d, nil
			}),
			"set_enabled_resources": c.builtin("config.set_enabled_resources", ps(1, "resources"), nil),
		}},
	}
}

type configFlags map[string]string

func (f configFlags) String() string { return fmt.Sprint(map[string]string(f)) }
func (f configFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	f[k] = v
	return nil
}

func main() {
	kubectl := flag.String("kubectl", envOr("KUBECTL", "kubectl"), "kubectl binary for kustomize() (default $KUBECTL or kubectl)")
	context := flag.String("context", "kind-kind", "what k8s_context() returns")
	cfg := configFlags{}
	flag.Var(cfg, "config", "KEY=VALUE for config.parse() (a list: comma-separated); repeatable")
	flag.Parse()
	tiltfile := "Tiltfile"
	if flag.NArg() > 0 {
		tiltfile = flag.Arg(0)
	}
	path, err := filepath.Abs(tiltfile)
	if err != nil {
		fatal(err)
	}
	c := &checker{dir: filepath.Dir(path), kubectl: *kubectl, context: *context, config: cfg}
	thread := &starlark.Thread{
		Name:  "Tiltfile",
		Print: func(_ *starlark.Thread, msg string) { fmt.Fprintln(os.Stderr, msg) },
		// load() (extensions, other Tiltfiles) is not supported: thread.Load stays nil, so it fails.
	}
	// Tilt's dialect: sets, while, top-level if/for and reassignment, recursion.
	opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}
	predeclared := c.predeclared()
	predeclared["__file__"] = starlark.String(path)
	if _, err := starlark.ExecFileOptions(opts, thread, path, nil, predeclared); err != nil {
		if e, ok := err.(*starlark.EvalError); ok {
			fatal(fmt.Errorf("%s", e.Backtrace()))
		}
		fatal(err)
	}
	out, err := json.MarshalIndent(map[string]any{"tiltfile": path, "calls": c.calls}, "", "  ")
	if err != nil {
		fatal(err)
	}
	fmt.Println(string(out))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "tiltfile-check:", err)
	os.Exit(1)
}
