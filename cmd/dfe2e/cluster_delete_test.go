package main

import (
	"errors"
	"strings"
	"testing"
)

func TestClusterDeleteRemovesTheRegistryEvenWhenTheClusterWasGone(t *testing.T) {
	removed := false
	err := deleteClusterAndRegistry(func() error { return errors.New("no nodes") }, func() error { removed = true; return nil })
	if !removed {
		t.Fatal("the registry container a kept run left was not removed")
	}
	if err == nil || !strings.Contains(err.Error(), "deleting the kind cluster: no nodes") {
		t.Errorf("want the cluster's error named, got %v", err)
	}
	err = deleteClusterAndRegistry(func() error { return nil }, func() error { return errors.New("daemon down") })
	if err == nil || !strings.Contains(err.Error(), "removing its registry container: daemon down") {
		t.Errorf("want the registry's error named, got %v", err)
	}
	if err := deleteClusterAndRegistry(func() error { return nil }, func() error { return nil }); err != nil {
		t.Error(err)
	}
}
