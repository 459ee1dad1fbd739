package standin

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func podOf(o Options) *corev1.Pod {
	_, sts := o.Objects()
	p := &corev1.Pod{Spec: sts.Spec.Template.Spec}
	// The StatefulSet controller turns each claim template into a volume.
	for _, t := range sts.Spec.VolumeClaimTemplates {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: t.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: t.Name + "-" + o.Name + "-0"}}})
	}
	return p
}

func TestDefaultKeepsSnapshotsOnTheClaim(t *testing.T) {
	o := Default("database", "img")
	desc, ok := DirVolume(podOf(o), Container, o.Dir)
	if !ok || !strings.Contains(desc, "PersistentVolumeClaim data-redis-standin-0") {
		t.Fatalf("%s (persistent %v)", desc, ok)
	}
	_, sts := o.Objects()
	c := sts.Spec.Template.Spec.Containers[0]
	if !strings.Contains(c.Command[2], "--dir \"/data/snapshots\"") || c.ImagePullPolicy != corev1.PullNever {
		t.Fatalf("command %q pull %s", c.Command[2], c.ImagePullPolicy)
	}
	if *sts.Spec.VolumeClaimTemplates[0].Spec.StorageClassName != "local-path" {
		t.Fatal("claim is not on local-path")
	}
}

// The planted defect's dir is named as off any volume.
func TestOffVolumeDirIsNamed(t *testing.T) {
	o := OffVolume("database", "img")
	desc, ok := DirVolume(podOf(o), Container, o.Dir)
	if ok || !strings.Contains(desc, OffVolumeDir) || !strings.Contains(desc, "no volume") {
		t.Fatalf("%s (persistent %v)", desc, ok)
	}
}

func TestEmptyDirIsNotPersistent(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}}},
		Volumes:    []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}}
	desc, ok := DirVolume(p, "c", "/scratch/snap")
	if ok || !strings.Contains(desc, "emptyDir volume scratch") {
		t.Fatalf("%s", desc)
	}
	// A dir that only shares a prefix with the mount is not on it.
	if desc, ok := DirVolume(p, "c", "/scratchpad"); ok || !strings.Contains(desc, "no volume") {
		t.Fatalf("%s", desc)
	}
}
