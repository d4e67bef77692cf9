package registry

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"xraylab/experiments"
)

func TestNotes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	e, _ := mustCreate(t, s, "noted", 1)
	other, _ := mustCreate(t, s, "other", 1)

	a, err := s.AddNote(ctx, e.ID, "# Finding\nHistogram equalisation helps the **CAE**.")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AddNote(ctx, e.ID, "second")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddNote(ctx, other.ID, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || a.ExperimentID != e.ID || !a.Created.Equal(a.Updated) {
		t.Errorf("note not filled in: %+v", a)
	}
	got, err := s.Notes(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []*experiments.Note{a, b}) {
		t.Errorf("notes\n got %+v\nwant %+v", got, []*experiments.Note{a, b})
	}

	up, err := s.UpdateNote(ctx, a.ID, "edited")
	if err != nil {
		t.Fatal(err)
	}
	if up.Body != "edited" || !up.Created.Equal(a.Created) || up.Updated.Before(a.Updated) || up.ExperimentID != e.ID {
		t.Errorf("updated note: %+v", up)
	}
	if err := s.DeleteNote(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Notes(ctx, e.ID)
	if !reflect.DeepEqual(got, []*experiments.Note{up}) {
		t.Errorf("after edit and delete: %+v", got)
	}

	_, err = s.AddNote(ctx, 99, "x")
	wantErr(t, err, experiments.CodeNotFound, "experiment 99 not found")
	_, err = s.Notes(ctx, 99)
	wantErr(t, err, experiments.CodeNotFound, "experiment 99 not found")
	_, err = s.UpdateNote(ctx, b.ID, "x")
	wantErr(t, err, experiments.CodeNotFound, "note 2 not found")
	wantErr(t, s.DeleteNote(ctx, b.ID), experiments.CodeNotFound, "note 2 not found")
	_, err = s.AddNote(ctx, e.ID, " \n\t")
	wantErr(t, err, experiments.CodeInvalid, "note body is empty")
	_, err = s.UpdateNote(ctx, a.ID, strings.Repeat("x", experiments.MaxNoteBytes+1))
	wantErr(t, err, experiments.CodeTooLarge, "note body is 65537 bytes; the limit is 65536")
}
