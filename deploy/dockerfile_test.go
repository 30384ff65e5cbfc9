package deploy_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Paths from this package to the files it checks.
const (
	root            = "../"
	dockerfile      = root + "Dockerfile"
	addonDockerfile = root + "homeassistant-addon/Dockerfile"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
}

// stage is the instructions from one FROM to the next.
type stage struct {
	from         string // FROM's arguments
	instructions []instruction
}

// parseDockerfile splits the Dockerfile at path into stages. It knows what
// these Dockerfiles use: comments, continuation lines, one instruction per
// line.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	var pending string
	for line := range strings.Lines(string(raw)) {
		line = strings.TrimRight(line, " \t\r\n")
		if trimmed := strings.TrimSpace(line); trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line, pending = pending+line, ""
		cmd, args, _ := strings.Cut(strings.TrimSpace(line), " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.Join(strings.Fields(args), " ")}
		if in.cmd == "FROM" {
			stages = append(stages, stage{from: in.args})
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s: %s before the first FROM", path, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
	}
	if len(stages) == 0 {
		t.Fatalf("%s has no FROM", path)
	}
	return stages
}

// all returns the arguments of every cmd instruction of s.
func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// one returns the arguments of s's only cmd instruction.
func (s stage) one(t *testing.T, cmd string) string {
	t.Helper()
	all := s.all(cmd)
	if len(all) != 1 {
		t.Fatalf("want one %s in the stage FROM %s, found %d", cmd, s.from, len(all))
	}
	return all[0]
}

// execForm parses an instruction's exec form, ["a", "b"], after its --flags.
func execForm(t *testing.T, args string) []string {
	t.Helper()
	i := strings.Index(args, "[")
	if i < 0 {
		t.Fatalf("%q is not in exec form: a scratch image has no shell to run it", args)
	}
	var argv []string
	if err := json.Unmarshal([]byte(args[i:]), &argv); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return argv
}

// buildRun returns the RUN instruction of the build stage that compiles.
func buildRun(t *testing.T, s stage, tool string) string {
	t.Helper()
	for _, run := range s.all("RUN") {
		if strings.Contains(run, tool) {
			return run
		}
	}
	t.Fatalf("no RUN with %s in the stage FROM %s", tool, s.from)
	return ""
}

func requireAll(t *testing.T, what, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("%s lacks %s", what, p)
		}
	}
}

// checkRuntime checks what the final, empty image must hold for the bridge.
func checkRuntime(t *testing.T, final stage, entrypoint []string) {
	t.Helper()
	if final.from != "scratch" {
		t.Errorf("final stage FROM %s, want scratch", final.from)
	}
	// crypto/x509 reads this file first on Linux (root_linux.go, certFiles).
	if !slices.ContainsFunc(final.all("COPY"), func(c string) bool {
		return strings.HasSuffix(c, " /etc/ssl/certs/ca-certificates.crt")
	}) {
		t.Error("the final image lacks /etc/ssl/certs/ca-certificates.crt: Graph's TLS certificate could not be verified")
	}
	if got := execForm(t, final.one(t, "ENTRYPOINT")); !slices.Equal(got, entrypoint) {
		t.Errorf("ENTRYPOINT %q, want %q", got, entrypoint)
	}
	hc := final.one(t, "HEALTHCHECK")
	if got, want := execForm(t, hc), []string{"/messenger-bridge", "health"}; !slices.Equal(got, want) {
		t.Errorf("HEALTHCHECK runs %q, want %q", got, want)
	}
	requireAll(t, "HEALTHCHECK", hc, "--interval=", "--timeout=", "--start-period=", "--retries=")
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, dockerfile)
	build, final := stages[0], stages[len(stages)-1]

	if !strings.HasPrefix(build.from, "--platform=$BUILDPLATFORM golang:") {
		t.Errorf("build stage FROM %s: want --platform=$BUILDPLATFORM golang:…, to cross-compile without emulation", build.from)
	}
	for _, arg := range []string{"TARGETOS", "TARGETARCH", "TARGETVARIANT", "VERSION=dev"} {
		if !slices.Contains(build.all("ARG"), arg) {
			t.Errorf("build stage lacks ARG %s", arg)
		}
	}
	run := buildRun(t, build, "go build")
	requireAll(t, "the go build RUN", run,
		"CGO_ENABLED=0", `GOOS="$TARGETOS"`, `GOARCH="$TARGETARCH"`, `GOARM="${TARGETVARIANT#v}"`,
		"-trimpath", "-tags timetzdata", `-ldflags "-s -w -X main.version=${VERSION}"`, "./cmd/messenger-bridge")

	checkRuntime(t, final, []string{"/messenger-bridge"})
	user := final.one(t, "USER")
	if m := regexp.MustCompile(`^([0-9]+):([0-9]+)$`).FindStringSubmatch(user); m == nil || m[1] == "0" {
		t.Errorf("USER %q: want a numeric uid:gid other than root", user)
	}
	if !slices.ContainsFunc(final.all("COPY"), func(c string) bool {
		return strings.HasPrefix(c, "--from=build --chown="+user+" ") && strings.HasSuffix(c, " /data")
	}) {
		t.Errorf("no COPY --chown=%s of /data: a volume mounted there would not be writable", user)
	}
	if got := final.all("VOLUME"); !slices.Equal(got, []string{"/data"}) {
		t.Errorf("VOLUME %q, want /data", got)
	}
	if !slices.Contains(final.all("ENV"), "DATA_DIR=/data") {
		t.Error("the image lacks ENV DATA_DIR=/data (SPEC: /data in the container)")
	}
	if !slices.Contains(final.all("EXPOSE"), "8080") {
		t.Error("the image does not EXPOSE 8080, HTTP_ADDR's default")
	}
}

func TestAddonDockerfile(t *testing.T) {
	stages := parseDockerfile(t, addonDockerfile)
	build, final := stages[0], stages[len(stages)-1]

	module := modulePath(t)
	run := buildRun(t, build, "go install")
	requireAll(t, "the add-on's go install RUN", run,
		"CGO_ENABLED=0", "-trimpath", "-tags timetzdata", `-ldflags "-s -w -X main.version=${BUILD_VERSION}"`,
		module+"/cmd/messenger-bridge@v${BUILD_VERSION}", module+"/cmd/addon-run@v${BUILD_VERSION}")
	// The Supervisor builds natively on aarch64 or amd64; a GOARCH or GOARM
	// would only be left over from the 32-bit architectures it dropped.
	for _, v := range []string{"GOARCH", "GOARM"} {
		if strings.Contains(run, v) {
			t.Errorf("the add-on's go install RUN sets %s; the Supervisor builds natively for aarch64 and amd64", v)
		}
	}
	// Passed by the Supervisor: the version to the build, both to the labels.
	if !slices.Contains(build.all("ARG"), "BUILD_VERSION") {
		t.Error("build stage lacks ARG BUILD_VERSION")
	}
	for _, arg := range []string{"BUILD_VERSION", "BUILD_ARCH"} {
		if !slices.Contains(final.all("ARG"), arg) {
			t.Errorf("final stage lacks ARG %s, which its LABEL uses", arg)
		}
	}
	checkRuntime(t, final, []string{"/addon-run"})
	requireAll(t, "the add-on's LABEL", strings.Join(final.all("LABEL"), " "), `io.hass.type="addon"`, "io.hass.version=", "io.hass.arch=")
}

// modulePath is go.mod's module path.
func modulePath(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(root + "go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("go.mod names no module")
	}
	return string(m[1])
}

func TestDockerignoreKeepsSecretsOut(t *testing.T) {
	raw, err := os.ReadFile(root + ".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for line := range strings.Lines(string(raw)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	// An allow-list: everything out, then the module files and Go sources
	// back in. A .env, keys or the outbox can never reach the context.
	want := []string{"*", "!go.mod", "!go.sum", "!**/*.go"}
	if len(patterns) < len(want) || !slices.Equal(patterns[:len(want)], want) {
		t.Fatalf(".dockerignore starts %q, want %q", patterns, want)
	}
}
