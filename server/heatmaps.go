package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"xraylab/experiments"
)

// Heatmaps draws a run's anomaly map of one image on demand, with the
// run's checkpoint. experiments/local.Heatmaps implements it.
type Heatmaps interface {
	// Render returns the PNG of image rel (slash-separated, relative to
	// the dataset root; half 1 or 2 for a hand of a two-hand image) as
	// the model in checkpoint sees and scores it, with its map named
	// mapName ("" for its first). An unknown name is an invalid error
	// that lists the model's maps.
	Render(ctx context.Context, checkpoint, root, rel string, half int, mapName string) ([]byte, error)
}

const (
	// heatmapCacheDir is the folder, inside a run's artifact folder, of
	// the heatmaps rendered on demand. They are not recorded artifacts:
	// the cache can be deleted at any time.
	heatmapCacheDir = "heatmap-cache"
	// heatmapRenders bounds renders at once: each loads a model and
	// preprocesses an image, and the dashboard asks for several runs at a
	// time.
	heatmapRenders = 2
	checkpointName = "checkpoint.bin" // experiments/local.CheckpointName
)

// heatmapState is what the heatmap endpoint shares across requests: one
// render per cache file at a time (others wait for it), and at most
// heatmapRenders renders at once.
type heatmapState struct {
	once     sync.Once
	slots    chan struct{}
	mu       sync.Mutex
	inflight map[string]*heatmapRender
}

// heat is the process's heatmap state, shared by its servers: renders are
// bound by the machine's CPUs, not by a server, and cache files are keyed
// by their absolute paths.
var heat heatmapState

type heatmapRender struct {
	done chan struct{}
	err  error
}

// runHeatmap serves GET /api/runs/:id/heatmap?image=REL_PATH[&half=N][&map=NAME]:
// the run's anomaly map of one of its test images (image is its path in
// the run's scores.csv, half its hand after a two-hand split, default 0;
// map the model's map, default its first: recon for a reconstruction,
// d_grad or d_gradx for a GAN's discriminator saliency),
// rendered with the run's checkpoint on first request and cached under
// the run's artifact folder, keyed by the checkpoint's hash and the map as
// asked, so a run still training gets maps of its newest checkpoint. (The
// default and its explicit name are cached apart: which map is first is
// only known once the model has scored.) The image must be one of
// the run's recorded test images: never a path the client makes up.
//
// Errors: 400 without image, with a bad half, a map the model does not
// draw (the message lists its maps), or for an image of the run's
// validation split; 404 for an unknown run, a run without scores, an
// image the run never scored, an image file missing on this server, or a
// server without a renderer; 409 while the run has no checkpoint or
// dataset record yet.
func (s *Server) runHeatmap(c *fiber.Ctx) error {
	image := utils.CopyString(c.Query("image"))
	if image == "" {
		return invalid(paramDetails{"image", "", "a test image path of the run, as in its scores"}, "query parameter image is required")
	}
	half := 0
	if v := c.Query("half"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 2 {
			const allowed = "0 (whole image), 1 or 2 (a hand of a two-hand image)"
			return invalid(paramDetails{"half", utils.CopyString(v), allowed}, "query parameter half: must be %s, got %q", allowed, v)
		}
		half = n
	}
	mapName := utils.CopyString(c.Query("map"))
	r, err := s.lookupRun(c)
	if err != nil {
		return err
	}
	if s.cfg.Heatmaps == nil {
		return notFound("this server renders no heatmaps")
	}
	if err := s.checkTestImage(c, r, image, half); err != nil {
		return err
	}
	ckpt, err := s.checkpointOf(c, r)
	if err != nil {
		return err
	}
	root, err := s.datasetRoot(c, r)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.cfg.ArtifactsDir, strconv.FormatInt(r.ID, 10))
	sum := sha256.Sum256([]byte(ckpt.SHA256 + "\x00" + image + "\x00" + strconv.Itoa(half) + "\x00" + mapName))
	file := filepath.Join(dir, heatmapCacheDir, hex.EncodeToString(sum[:16])+".png")
	hit := true
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		hit = false
		if err := s.renderHeatmap(c.UserContext(), file, filepath.Join(dir, checkpointName), root, image, half, mapName); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/png")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set("X-Heatmap-Cache", map[bool]string{true: "hit", false: "miss"}[hit])
	return c.Send(data)
}

// checkTestImage says whether (image, half) is one of the run's scored
// test images, and if not, why not in words the dashboard can show.
func (s *Server) checkTestImage(c *fiber.Ctx, r *experiments.Run, image string, half int) error {
	t, err := s.readScores(c, r)
	if err != nil {
		return err
	}
	var parts []string
	var halves []string
	for _, row := range t.Rows {
		if row.Path != image {
			continue
		}
		if row.Part == "test" && row.Half == half {
			return nil
		}
		if row.Part == "test" {
			halves = append(halves, strconv.Itoa(row.Half))
		} else {
			parts = append(parts, row.Part)
		}
	}
	switch {
	case len(halves) > 0:
		sort.Strings(halves)
		return invalid(paramDetails{"half", strconv.Itoa(half), strings.Join(halves, ", ")},
			"test image %q of run %d has no half %d; it has: %s", image, r.ID, half, strings.Join(halves, ", "))
	case len(parts) > 0:
		return invalid(paramDetails{"image", image, "a test image path of the run"},
			"image %q is in run %d's %s split, not its test split", image, r.ID, parts[0])
	}
	return notFound("run %d has no image %q among its scored images", r.ID, image)
}

// checkpointOf is the run's recorded checkpoint artifact; 409 until the
// run has written one.
func (s *Server) checkpointOf(c *fiber.Ctx, r *experiments.Run) (*experiments.Artifact, error) {
	arts, err := s.cfg.Store.Artifacts(c.UserContext(), r.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range arts {
		if a.Name == checkpointName {
			return a, nil
		}
	}
	return nil, experiments.Errorf(experiments.CodeConflict, "run %d has no checkpoint yet (state %s)", r.ID, r.State)
}

// datasetRoot is the data folder the run read, from its dataset record.
func (s *Server) datasetRoot(c *fiber.Ctx, r *experiments.Run) (string, error) {
	d, err := s.cfg.Store.Dataset(c.UserContext(), r.ID)
	if experiments.IsNotFound(err) {
		return "", experiments.Errorf(experiments.CodeConflict, "run %d has no dataset record yet (state %s)", r.ID, r.State)
	}
	if err != nil {
		return "", err
	}
	var sum struct {
		Root string `json:"root"`
	}
	if err := json.Unmarshal(d.Summary, &sum); err != nil || sum.Root == "" {
		return "", fmt.Errorf("run %d: dataset summary names no root: %v", r.ID, err)
	}
	return sum.Root, nil
}

// renderHeatmap renders into file unless another request is already
// rendering it, in which case it waits for that one.
func (s *Server) renderHeatmap(ctx context.Context, file, checkpoint, root, image string, half int, mapName string) error {
	st := &heat
	st.once.Do(func() {
		st.slots = make(chan struct{}, heatmapRenders)
		st.inflight = map[string]*heatmapRender{}
	})
	st.mu.Lock()
	if job, ok := st.inflight[file]; ok {
		st.mu.Unlock()
		select {
		case <-job.done:
			return job.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	job := &heatmapRender{done: make(chan struct{})}
	st.inflight[file] = job
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		delete(st.inflight, file)
		st.mu.Unlock()
		close(job.done)
	}()
	select {
	case st.slots <- struct{}{}:
	case <-ctx.Done():
		job.err = ctx.Err()
		return job.err
	}
	defer func() { <-st.slots }()
	job.err = writeHeatmap(ctx, s.cfg.Heatmaps, file, checkpoint, root, image, half, mapName)
	return job.err
}

// writeHeatmap renders and writes file atomically (temporary file, then
// rename), so a reader never sees half a PNG.
func writeHeatmap(ctx context.Context, hm Heatmaps, file, checkpoint, root, image string, half int, mapName string) error {
	png, err := hm.Render(ctx, checkpoint, root, image, half, mapName)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".heatmap-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(png)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
