package clickhouselocal

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNotInstalled says neither clickhouse-server nor clickhouse was found.
var ErrNotInstalled = errors.New("clickhouse-server not installed (apt-get install clickhouse-server)")

// installDirs are where packages put the server, searched after PATH,
// which often lacks them (/usr/sbin for a user who is not root).
var installDirs = []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"}

// Binary is how to run a server: the program and the arguments that come
// before --config-file.
type Binary struct {
	Path string
	Args []string
}

// BinaryAt is the server at path: the single clickhouse program of later
// releases needs "server" as its first argument, Debian's clickhouse-server
// (18.16 ships it as a program of its own) does not.
func BinaryAt(path string) Binary {
	if filepath.Base(path) == "clickhouse" {
		return Binary{Path: path, Args: []string{"server"}}
	}
	return Binary{Path: path}
}

// FindBinary looks for clickhouse-server and then for clickhouse, each in
// PATH and then in the directories packages install to. It returns
// ErrNotInstalled when neither is there.
func FindBinary() (Binary, error) {
	for _, name := range []string{"clickhouse-server", "clickhouse"} {
		if p, ok := lookPath(name); ok {
			return BinaryAt(p), nil
		}
	}
	return Binary{}, ErrNotInstalled
}

func lookPath(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, dir := range installDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// CommandArgs are the arguments that run b with the configuration
// WriteConfig wrote into dir.
func (b Binary) CommandArgs(dir string) []string {
	args := make([]string, 0, len(b.Args)+1)
	args = append(args, b.Args...)
	return append(args, "--config-file="+filepath.Join(dir, ConfigFile))
}
