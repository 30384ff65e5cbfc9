package deploy_test

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// imageLimit is the image size issue 7 asks for: under 20 MB.
const imageLimit = 20 << 20

// platforms are those the README's buildx command builds: the 64-bit ones
// Home Assistant still supports.
var platforms = []struct {
	name, goarch string
	machine      elf.Machine
	class        elf.Class
}{
	{"linux/amd64", "amd64", elf.EM_X86_64, elf.ELFCLASS64},
	{"linux/arm64", "arm64", elf.EM_AARCH64, elf.ELFCLASS64},
}

// goBuildArgs returns the arguments of the Dockerfile's `go build`, with
// VERSION set to version and the output in dir.
func goBuildArgs(t *testing.T, run, version, out string) []string {
	t.Helper()
	_, cmd, _ := strings.Cut(run, "go build ")
	cmd, _, _ = strings.Cut(cmd, " && ")
	words := shellWords(t, os.Expand(cmd, func(name string) string {
		if name != "VERSION" {
			t.Fatalf("go build uses $%s; the test knows only VERSION", name)
		}
		return version
	}))
	for i, w := range words {
		if w == "-o" && i+1 < len(words) {
			words[i+1] = out
		}
	}
	return append([]string{"build"}, words...)
}

// shellWords splits s at spaces outside double quotes, as sh would these
// commands.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var word strings.Builder
	quoted, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quotes in %q", s)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

// TestImageBuildsForEveryPlatform runs the Dockerfile's build command for each
// platform, as buildx would, and checks the binaries: static, for the right
// machine, stamped with the version, and small enough.
func TestImageBuildsForEveryPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the bridge for each platform")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	certs, err := os.Stat("/etc/ssl/certs/ca-certificates.crt") // what the image copies, as a size estimate
	if err != nil {
		t.Skipf("no CA bundle to estimate the image size: %v", err)
	}
	run := buildRun(t, parseDockerfile(t, dockerfile)[0], "go build")
	const version = "v9.8.7-imagetest"
	dir := t.TempDir()
	for _, p := range platforms {
		t.Run(p.name, func(t *testing.T) {
			bin := filepath.Join(dir, p.goarch)
			cmd := exec.CommandContext(t.Context(), goTool, goBuildArgs(t, run, version, bin)...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+p.goarch, "GOARM=") // TARGETVARIANT is empty for both
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
			}
			checkBinary(t, bin, p.machine, p.class, version)
			st, err := os.Stat(bin)
			if err != nil {
				t.Fatal(err)
			}
			size := st.Size() + certs.Size()
			t.Logf("%s: binary %.1f MB, image about %.1f MB", p.name, float64(st.Size())/1e6, float64(size)/1e6)
			if size >= imageLimit {
				t.Errorf("image about %d bytes, want under %d", size, imageLimit)
			}
			if p.goarch == runtime.GOARCH && runtime.GOOS == "linux" {
				out, err := exec.CommandContext(t.Context(), bin, "version").Output()
				if err != nil || strings.TrimSpace(string(out)) != "messenger-bridge "+version {
					t.Errorf("version: %q, %v; want messenger-bridge %s", out, err, version)
				}
			}
		})
	}
}

// checkBinary checks that bin is a static Linux executable for machine, with
// version stamped in.
func checkBinary(t *testing.T, bin string, machine elf.Machine, class elf.Class, version string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine || f.Class != class || f.Type != elf.ET_EXEC {
		t.Errorf("ELF %s %s %s, want an executable for %s %s", f.Class, f.Machine, f.Type, class, machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%s): it would not start on scratch", prog.Type)
		}
	}
	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(version)) {
		t.Errorf("the binary does not hold the version %s set with -X main.version", version)
	}
}

// TestImageNeedsOnlyGoSources checks that the packages the images build need
// no file that .dockerignore keeps out of the build context.
func TestImageNeedsOnlyGoSources(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), "go", "list", "-deps",
		"-f", `{{if and .Module .Module.Main}}{{.ImportPath}} {{join .EmbedFiles " "}} {{join .SFiles " "}} {{join .CFiles " "}}{{end}}`,
		"./cmd/messenger-bridge", "./cmd/addon-run")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		if pkg, files, _ := strings.Cut(strings.TrimSpace(line), " "); strings.TrimSpace(files) != "" {
			t.Errorf("%s needs %s, which .dockerignore leaves out of the image's build", pkg, files)
		}
	}
}
