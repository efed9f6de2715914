package servecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/calccmd"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

// server answers the page and the API.
type server struct {
	o Options
	e cmdutil.Env
	// slots bounds the commands running at once (a plan sweeps the whole
	// catalog): a request waits for one.
	slots chan struct{}
}

// maxRunning is how many commands run at once.
const maxRunning = 4

// NewHandler is the page and the API for o, whose files and directories
// are checked here, once. e's Getenv is the server's environment; its
// Stdout and Stderr are not used by the handlers.
func NewHandler(o Options, e cmdutil.Env) (http.Handler, error) {
	if err := loadOptions(&o); err != nil {
		return nil, err
	}
	if e.Hub != nil {
		e.Hub = newHubMemo(e.Hub).Fetch
	}
	s := &server{o: o, e: e, slots: make(chan struct{}, maxRunning)}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/estimate", s.api(calccmd.Estimate, true))
	mux.HandleFunc("/api/plan", s.api(calccmd.Plan, true))
	mux.HandleFunc("/api/gpus", s.api(calccmd.GPUs, false))
	mux.HandleFunc("/api/models", s.models)
	mux.HandleFunc("/{$}", page)
	return guard(mux), nil
}

// apiError is the body of every failed API request.
type apiError struct {
	Error string `json:"error"`
	Hint  string `json:"hint"`
}

// writeJSON writes v with the CLI's JSON formatting.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = cmdutil.JSON(w, v)
}

// guard is what every request passes: GET only, a bounded query, and a
// panic turned into a 500 that shows no internals.
func guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				writeJSON(w, http.StatusInternalServerError, apiError{Error: "internal error", Hint: "this is a bug in vramcalc serve: the CLI with the same flags may say more"})
			}
		}()
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeJSON(w, http.StatusMethodNotAllowed, apiError{Error: fmt.Sprintf("method %s not allowed", r.Method), Hint: "the page and the API answer GET only"})
			return
		}
		if len(r.URL.RawQuery) > maxQueryBytes {
			writeJSON(w, http.StatusRequestURITooLong, apiError{Error: fmt.Sprintf("query of %d bytes: at most %d", len(r.URL.RawQuery), maxQueryBytes), Hint: "give only the flags you need"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// api runs the command build makes with the request's query as its flags
// (and model as its MODEL argument when withModel) and -o json, and
// answers what it printed.
func (s *server) api(build func(cmdutil.Env) *cli.Command, withModel bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			s.fail(w, cmdutil.Usage("encode the query as a form (key=value&…)", "bad query: %v", err))
			return
		}
		out, err := s.run(r.Context(), build, q, withModel)
		if err != nil {
			s.fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}

// models is /api/models: `vramcalc models -o json`, narrowed to the ids
// that contain q (any case) when q is given.
func (s *server) models(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	search := strings.ToLower(strings.TrimSpace(q.Get("q")))
	q.Del("q")
	out, err := s.run(r.Context(), calccmd.Models, q, false)
	if err != nil {
		s.fail(w, err)
		return
	}
	if search == "" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
		return
	}
	var all []json.RawMessage
	if err := json.Unmarshal(out, &all); err != nil {
		s.fail(w, fmt.Errorf("serve: models: %w", err))
		return
	}
	found := []json.RawMessage{}
	for _, m := range all {
		var id struct{ ID string }
		if json.Unmarshal(m, &id) == nil && strings.Contains(strings.ToLower(id.ID), search) {
			found = append(found, m)
		}
	}
	writeJSON(w, http.StatusOK, found)
}

// fail answers err as JSON: 504 when the Hub did not answer in time, 400
// for everything else a command refuses (its input). The token is
// scrubbed from the message, in case a cause ever quotes it.
func (s *server) fail(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	if errors.Is(err, cmdutil.ErrNoAnswer) || errors.Is(err, context.DeadlineExceeded) {
		code = http.StatusGatewayTimeout
	}
	msg, hint := err.Error(), cmdutil.Hint(err)
	if s.o.Static && (errors.Is(err, hfmeta.ErrOffline) || errors.Is(err, errLocalPath)) {
		hint = staticHint
	}
	if tok := cmdutil.HFToken(s.e.Getenv); tok != "" {
		msg, hint = strings.ReplaceAll(msg, tok, "[HF token]"), strings.ReplaceAll(hint, tok, "[HF token]")
	}
	writeJSON(w, code, apiError{Error: msg, Hint: hint})
}

// run builds the command, runs it in-process on argv(q) with -o json and
// returns what it printed.
func (s *server) run(ctx context.Context, build func(cmdutil.Env) *cli.Command, q url.Values, withModel bool) ([]byte, error) {
	var out, errb bytes.Buffer
	env := s.e
	env.Stdout, env.Stderr, env.Companion = &out, &errb, nil
	cmd := build(env)
	args, err := s.argv(cmd, q, withModel)
	if err != nil {
		return nil, err
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return nil, fmt.Errorf("serve: %w", ctx.Err())
	}
	root := cmdutil.Prepare(&cli.Command{Name: "vramcalc", Commands: []*cli.Command{cmd}}, env)
	if err := root.Run(ctx, args); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// refused are flags a request may not give: the output is JSON, and files
// are the server's to name (--corrections at start), never a request's.
var refused = map[string]string{
	"output": "the API always answers -o json", "o": "the API always answers -o json",
	"help": "see `vramcalc estimate --help`", "h": "see `vramcalc estimate --help`",
	"check":       "the answer's fits says whether the limits start",
	"corrections": "the server applies its own --corrections (vramcalc serve --corrections FILE)",
	"prices":      "give prices as price=h100-sxm=2.49,l4=0.80 (the server's own --prices apply to every plan)",
}

// argv is the command line for cmd from q: each key as --key=value (one per
// value; an empty value is a flag not given, as a form's empty field; a
// bool flag is key=true), in key order, -o json, the server's --offline and --corrections,
// and model last after "--".
func (s *server) argv(cmd *cli.Command, q url.Values, withModel bool) ([]string, error) {
	args := []string{"vramcalc", cmd.Name, "-o", "json"}
	model := q.Get("model")
	if withModel {
		if len(q["model"]) != 1 || model == "" {
			return nil, cmdutil.Usage("add model=ORG/NAME, e.g. model=meta-llama/Llama-3.1-8B-Instruct", "give one model")
		}
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "model" || !withModel {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if why, ok := refused[k]; ok {
			return nil, cmdutil.Usage(why, "%s is not taken by the API", k)
		}
		if !flagName(k) {
			return nil, cmdutil.Usage(fmt.Sprintf("run `vramcalc %s --help` for the flags", cmd.Name), "%q is not a flag name", k)
		}
		for _, v := range q[k] {
			v, err := s.fileArg(k, v)
			if err != nil {
				return nil, err
			}
			if v != "" {
				args = append(args, "--"+k+"="+v)
			}
		}
	}
	if s.o.Offline && hasFlag(cmd, "offline") {
		// estimate and plan resolve models; models and gpus take no --offline.
		args = append(args, "--offline")
	}
	if s.o.Corrections != "" && hasFlag(cmd, "corrections") && engineOf(q) == s.o.correctionsEngine {
		args = append(args, "--corrections="+s.o.Corrections)
	}
	if s.o.Prices != "" && hasFlag(cmd, "prices") {
		args = append(args, "--prices="+s.o.Prices)
	}
	if !withModel {
		return args, nil
	}
	m, err := s.modelRef(model)
	if err != nil {
		return nil, err
	}
	return append(args, "--", m), nil
}

// engineOf is the engine a request asks for (TGI by default, as the CLI).
func engineOf(q url.Values) string {
	if e := q.Get("engine"); e != "" {
		return strings.ToLower(e)
	}
	return "tgi"
}

// flagName reports whether k can only be read as one long flag.
func flagName(k string) bool {
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	return strings.Trim(k, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

// hasFlag reports whether cmd has a flag named k.
func hasFlag(cmd *cli.Command, k string) bool {
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), k) {
			return true
		}
	}
	return false
}

// fileArg checks the flags that name a model on the server's disk: the
// SGLang draft path, and vLLM's speculative-config "model".
func (s *server) fileArg(k, v string) (string, error) {
	switch k {
	case "speculative-draft-model-path":
		return s.modelRef(v)
	case "speculative-config":
		var c struct {
			Model string `json:"model"`
		}
		if json.Unmarshal([]byte(v), &c) != nil || c.Model == "" {
			return v, nil // the command says what is wrong with it
		}
		m, err := s.modelRef(c.Model)
		if err == nil && m != c.Model {
			err = cmdutil.Usage("give the draft's absolute path under --models-dir", "speculative-config model %q is relative", c.Model)
		}
		return v, err
	}
	return v, nil
}

// staticHint answers a model the page in the browser cannot read.
const staticHint = "this page runs without a server and knows the embedded catalog only (the model list); for Hub models and local directories run vramcalc serve"

// errLocalPath is a model on the server's disk outside --models-dir.
var errLocalPath = errors.New("local model paths are served only under --models-dir")

// modelRef is ref as the command may read it: a Hub or catalog id that
// names nothing on the server's disk, or a path (absolute, or ./NAME
// relative to --models-dir) inside --models-dir, symbolic links followed.
func (s *server) modelRef(ref string) (string, error) {
	if !hfmeta.LooksLikePath(ref) {
		if _, err := os.Lstat(ref); err == nil {
			return "", cmdutil.WithHint(fmt.Errorf("serve: model %q: %w (it names a path in the server's working directory)", ref, errLocalPath), "give a Hub id that is not a path on the server, or a path under --models-dir")
		}
		return ref, nil
	}
	hint := "start vramcalc serve with --models-dir DIR and give model=DIR/NAME or ./NAME"
	if s.o.ModelsDir == "" {
		return "", cmdutil.WithHint(fmt.Errorf("serve: model %q: %w, and none is set", ref, errLocalPath), hint)
	}
	p := ref
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.o.ModelsDir, p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", cmdutil.WithHint(fmt.Errorf("serve: model %q: no such directory under --models-dir", ref), "`ls` the models directory on the server; models are its subdirectories")
	}
	if rel, err := filepath.Rel(s.o.ModelsDir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", cmdutil.WithHint(fmt.Errorf("serve: model %q: %w", ref, errLocalPath), hint)
	}
	return real, nil
}
