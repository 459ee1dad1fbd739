package standin

import (
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// DirVolume says where dir lives in container c of pod p: on which volume
// (and whether that is a PersistentVolumeClaim), or on the container's own
// filesystem. The snapshot suite puts it into every loss message, so a
// failure names the cause.
func DirVolume(p *corev1.Pod, container, dir string) (desc string, persistent bool) {
	var best *corev1.VolumeMount
	for _, c := range p.Spec.Containers {
		if c.Name != container {
			continue
		}
		for i := range c.VolumeMounts {
			m := &c.VolumeMounts[i]
			mp := path.Clean(m.MountPath)
			if (dir == mp || strings.HasPrefix(path.Clean(dir)+"/", mp+"/")) && (best == nil || len(mp) > len(best.MountPath)) {
				best = m
			}
		}
	}
	if best == nil {
		return "snapshot dir " + dir + " is on no volume (the container's own filesystem, gone with the container)", false
	}
	for _, v := range p.Spec.Volumes {
		if v.Name != best.Name {
			continue
		}
		switch {
		case v.PersistentVolumeClaim != nil:
			return "snapshot dir " + dir + " is on PersistentVolumeClaim " + v.PersistentVolumeClaim.ClaimName + " (mounted at " + best.MountPath + ")", true
		case v.EmptyDir != nil:
			return "snapshot dir " + dir + " is on emptyDir volume " + v.Name + " (gone with the pod)", false
		default:
			return "snapshot dir " + dir + " is on volume " + v.Name + " (not a PersistentVolumeClaim)", false
		}
	}
	return "snapshot dir " + dir + " is on volume " + best.Name + " (not declared in the pod)", false
}
