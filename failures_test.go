package main

// Storage failures of the real binary: the disk under the artifacts fills,
// the disk under the database fills, the database is on a read-only file
// system at start-up, and the database's file system turns read-only while
// the server runs. Each gives a clear error and a failed run (or a clear
// start-up error), and the server neither crashes nor hangs.
//
// The disks are small file systems mounted for the test: tmpfs, and ext4
// on a loop device for the switch to read-only (the kernel's own
// errors=remount-ro path; a plain `mount -o remount,ro` is refused while
// the server holds the database open for writing). Root ignores file
// modes, so nothing else makes a full or read-only disk; without the
// permission to mount, the test skips and says why.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// specNamed reads a spec template of testdata: storage.yaml trains until
// the disk trouble strikes (every 200 keeps the artifacts out of the way
// where the database is the target; the artifacts case sets 1), short.yaml
// is a short run, to see that the server still does work afterwards.
func specNamed(t *testing.T, file, name string, every int) string {
	t.Helper()
	return strings.NewReplacer("NAME", name, "EVERY", strconv.Itoa(every)).Replace(readSpec(t, file))
}

// mounter runs mount(8) and umount(8), skipping the test when this
// process may not mount.
type mounter struct{ t *testing.T }

func needMount(t *testing.T) mounter {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount the small file systems that fill up or turn read-only (file modes do not stop root, and nothing else does)")
	}
	for _, tool := range []string{"mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	return mounter{t}
}

// mount mounts and registers the unmount, which runs after the cleanups
// registered later (the server's kill among them). Failure to mount skips.
func (m mounter) mount(dir string, args ...string) {
	t := m.t
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", append(args, dir)...).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount (needs root with mount permission): mount %s %s: %v: %s", strings.Join(args, " "), dir, err, out)
	}
	t.Cleanup(func() {
		var out []byte
		var err error
		for try := 0; try < 50; try++ {
			if out, err = exec.Command("umount", dir).CombinedOutput(); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // a process still closing its files
		}
		t.Errorf("umount %s: %v: %s", dir, err, out)
		exec.Command("umount", "-l", dir).Run()
	})
}

func (m mounter) tmpfs(dir, size string) {
	m.t.Helper()
	m.mount(dir, "-t", "tmpfs", "-o", "size="+size, "tmpfs")
}

// ext4 mounts a fresh ext4 image of sizeMB on a loop device, set to turn
// read-only on an error, and returns the loop device's name (loopN).
func (m mounter) ext4(dir string, sizeMB int) string {
	t := m.t
	t.Helper()
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		t.Skipf("needs mkfs.ext4 for a file system that can turn read-only: %v", err)
	}
	img := filepath.Join(t.TempDir(), "ext4.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, int64(sizeMB)<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	m.mount(dir, "-t", "ext4", "-o", "loop,errors=remount-ro", img)
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Skipf("cannot find the loop device: %v", err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[1] == dir && strings.HasPrefix(f[0], "/dev/loop") {
			return filepath.Base(f[0])
		}
	}
	t.Skipf("no loop device mounted at %s in /proc/self/mounts", dir)
	return ""
}

// fillDisk writes dir/filler until the file system is full and returns the
// file's path; removing it frees the space.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling %s: %v, want no space left on device", dir, err)
	}
	return path
}

// waitLog waits until a line of the server log holds every part, and
// returns it.
func waitLog(t *testing.T, logPath string, timeout time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.Open(logPath)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(sc.Text(), p)
			}
			if ok {
				f.Close()
				return sc.Text()
			}
		}
		f.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no server log line with %q within %s", parts, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestStorageFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	// One mount first, so that a machine that may not mount skips at once.
	needMount(t).tmpfs(filepath.Join(t.TempDir(), "probe"), "64k")
	bin := buildBinary(t)

	// The disk under var/artifacts fills while a run trains: its next
	// checkpoint fails, the run fails naming the file and the cause, and
	// the database (elsewhere) records it at once. A run started on the
	// full disk fails the same way; once there is room, runs succeed.
	t.Run("artifacts disk full", func(t *testing.T) {
		m := needMount(t)
		varDir := filepath.Join(t.TempDir(), "var")
		newVar(t, varDir)
		artifacts := filepath.Join(varDir, "artifacts")
		m.tmpfs(artifacts, "4m")
		p, _ := serveOn(t, bin, varDir)

		id := submitOne(t, p.base, specNamed(t, "storage.yaml", "fill-artifacts", 1))
		waitTraining(t, p.base, id)
		filler := fillDisk(t, artifacts)
		r := waitEnd(t, p.base, id, time.Minute)
		runDir := filepath.Join(artifacts, strconv.FormatInt(id, 10))
		if r.State != "failed" || !strings.Contains(r.Error, "write checkpoint") ||
			!strings.Contains(r.Error, runDir+string(filepath.Separator)) || !strings.Contains(r.Error, "no space left on device") {
			t.Fatalf("run %d ended %s: %q; want failed, naming the checkpoint in %s and no space left on device", id, r.State, r.Error, runDir)
		}
		t.Logf("run %d, disk filled while training: %s: %s", id, r.State, r.Error)
		checkHealthy(t, p.base)

		id2 := submitOne(t, p.base, specNamed(t, "short.yaml", "start-on-full", 0))
		r2 := waitEnd(t, p.base, id2, time.Minute)
		runDir2 := filepath.Join(artifacts, strconv.FormatInt(id2, 10))
		if r2.State != "failed" || !strings.Contains(r2.Error, runDir2+string(filepath.Separator)) || !strings.Contains(r2.Error, "no space left on device") {
			t.Fatalf("run %d started on the full disk ended %s: %q; want failed, naming a file in %s and no space left on device", id2, r2.State, r2.Error, runDir2)
		}
		t.Logf("run %d, started on the full disk: %s: %s", id2, r2.State, r2.Error)

		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		id3 := submitOne(t, p.base, specNamed(t, "short.yaml", "after-room", 0))
		if r3 := waitEnd(t, p.base, id3, time.Minute); r3.State != "succeeded" {
			t.Fatalf("run %d after the space was freed ended %s: %q", id3, r3.State, r3.Error)
		}
	})

	// The disk under the database fills while a run trains: its metrics
	// cannot be stored, so it fails, and its outcome cannot be recorded
	// either. The server says so in its log with the run's error, keeps
	// answering reads, answers writes with 500 and the logged cause, and
	// records the failure as soon as there is room again.
	t.Run("database disk full", func(t *testing.T) {
		m := needMount(t)
		varDir := filepath.Join(t.TempDir(), "var")
		m.tmpfs(varDir, "32m")
		newVar(t, varDir)
		p, logPath := serveOn(t, bin, varDir)
		db := filepath.Join(varDir, "xraylab.db")

		id := submitOne(t, p.base, specNamed(t, "storage.yaml", "fill-database", 200))
		waitTraining(t, p.base, id)
		filler := fillDisk(t, varDir)
		checkUnrecordable(t, p.base, logPath, db, id, "database or disk is full", "while-full")

		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		r := waitEnd(t, p.base, id, 30*time.Second)
		if r.State != "failed" || !strings.Contains(r.Error, "store metrics") || !strings.Contains(r.Error, "database or disk is full") {
			t.Fatalf("run %d ended %s: %q; want failed with the store error", id, r.State, r.Error)
		}
		t.Logf("run %d once there was room: %s: %s", id, r.State, r.Error)
		id2 := submitOne(t, p.base, specNamed(t, "short.yaml", "after-room", 0))
		if r2 := waitEnd(t, p.base, id2, time.Minute); r2.State != "succeeded" {
			t.Fatalf("run %d after the space was freed ended %s: %q", id2, r2.State, r2.Error)
		}
	})

	// A database on a read-only file system is a start-up error naming it:
	// for a new var folder (the folder is named), a cleanly closed database,
	// and one whose -wal and -shm files a killed server left (where SQLite
	// itself opens it read-only and only the first write would fail).
	t.Run("read-only database at start", func(t *testing.T) {
		for _, c := range []struct {
			name string
			make func(t *testing.T, varDir, db string)
			want string // after "xraylab serve: registry: "; %[1]s is var, %[2]s the database
		}{
			{"new var folder", func(*testing.T, string, string) {},
				"cannot create files in %[1]s, where the database xraylab.db and its -wal and -shm files live: read-only file system"},
			{"closed cleanly", func(t *testing.T, _, db string) {
				if err := openStore(t, db).Close(); err != nil {
					t.Fatal(err)
				}
			}, "the database %[2]s cannot be written: read-only file system"},
			{"left by a killed server", func(t *testing.T, varDir, db string) {
				startServe(t, bin, varDir, filepath.Join(t.TempDir(), "serve.log")).kill()
				if _, err := os.Stat(db + "-wal"); err != nil {
					t.Fatalf("the killed server left no WAL: %v", err)
				}
			}, "the database %[2]s cannot be written: read-only file system"},
		} {
			t.Run(c.name, func(t *testing.T) {
				m := needMount(t)
				varDir := filepath.Join(t.TempDir(), "var")
				m.tmpfs(varDir, "4m")
				newVar(t, varDir)
				db := filepath.Join(varDir, "xraylab.db")
				c.make(t, varDir, db)
				if out, err := exec.Command("mount", "-o", "remount,ro", varDir).CombinedOutput(); err != nil {
					t.Fatalf("remount read-only: %v: %s", err, out)
				}
				code, out, err := serveExit(t, bin, varDir)
				want := "xraylab serve: registry: " + fmt.Sprintf(c.want, varDir, db) + "\n"
				if code != 1 || !strings.Contains(out, want) || strings.Contains(out, "panic") {
					t.Fatalf("exit %d (%v), want 1 with %q:\n%s", code, err, want, out)
				}
			})
		}
	})

	// The file system under var turns read-only while a run trains, as
	// ext4 does on a disk error: the run fails, its outcome cannot be
	// recorded and the log says so with both causes; reads go on, writes
	// get 500 with the cause logged, and the server still stops cleanly.
	t.Run("database turns read-only", func(t *testing.T) {
		m := needMount(t)
		varDir := filepath.Join(t.TempDir(), "var")
		dev := m.ext4(varDir, 32)
		trigger := filepath.Join("/sys/fs/ext4", dev, "trigger_fs_error")
		if _, err := os.Stat(trigger); err != nil {
			t.Skipf("this kernel cannot be asked to fail ext4: %v", err)
		}
		newVar(t, varDir)
		p, logPath := serveOn(t, bin, varDir)
		db := filepath.Join(varDir, "xraylab.db")

		id := submitOne(t, p.base, specNamed(t, "storage.yaml", "turn-read-only", 200))
		waitTraining(t, p.base, id)
		if err := os.WriteFile(trigger, []byte("xraylab TestStorageFailures"), 0o200); err != nil {
			t.Skipf("cannot make ext4 fail: %v", err)
		}
		if err := os.WriteFile(filepath.Join(varDir, "probe"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
			t.Fatalf("after the ext4 error, writing in %s gives %v, want read-only file system", varDir, err)
		}
		checkUnrecordable(t, p.base, logPath, db, id, "read-only file system", "while-read-only")
		if err := p.stop(); err != nil {
			t.Fatalf("stop on a read-only database: %v", err)
		}
		waitLog(t, logPath, time.Second, "run outcome not recorded before shutdown", fmt.Sprintf("run=%d", id))
	})
}

// checkUnrecordable checks a server whose database refuses writes (cause):
// the run's failure is logged with the database error and retried, the
// server stays up, the run still reads as running, and a submission gets a
// 500 whose cause is logged.
func checkUnrecordable(t *testing.T, base, logPath, db string, id int64, cause, name string) {
	t.Helper()
	line := waitLog(t, logPath, time.Minute, "cannot record run outcome", fmt.Sprintf("run=%d", id))
	for _, want := range []string{"store metrics", "commit to " + db, cause} {
		if !strings.Contains(line, want) {
			t.Fatalf("the log line on the unrecordable failure lacks %q:\n%s", want, line)
		}
	}
	t.Logf("log: %s", line)
	checkHealthy(t, base)
	if r := getRun(t, base, id); r.State != "running" {
		t.Fatalf("run %d is %s while its outcome cannot be recorded (%s)", id, r.State, cause)
	}
	status, body := submitStatus(t, base, specNamed(t, "short.yaml", name, 0))
	if status != 500 || !strings.Contains(body, `"internal"`) {
		t.Fatalf("submit while the database refuses writes (%s): %d %s, want 500", cause, status, body)
	}
	waitLog(t, logPath, 10*time.Second, "request failed", "path=/api/experiments", "status=500", "commit to "+db, cause)
}
