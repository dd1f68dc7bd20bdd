"""Smooth camera and object trajectories over normalised time s in [0, 1].

World frame: z up, metres. Cameras follow the OpenCV convention (x right, y down, z forward)
and are returned as camera-to-world 4x4 poses. Camera styles: "orbit" (arc around the stage,
looking at it), "walk" (a straight dolly past the stage, looking at it), "rotation" (fixed
centre, panning: pure rotation) and "static" (millimetre jitter: near-static).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

CameraMotion = Literal["orbit", "walk", "rotation", "static"]
CAMERA_MOTIONS: tuple[CameraMotion, ...] = ("orbit", "walk", "rotation", "static")
UP = np.array([0.0, 0.0, 1.0])


def normalised_time(frames: int) -> np.ndarray:
    """(N,) times i / (N - 1) in [0, 1]; a single frame sits at 0."""
    return np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """OpenCV camera-to-world poses looking from `eye` to `target` with world z up.

    Args:
        eye: (N, 3) camera centres in the world.
        target: (N, 3) points the optical axes pass through (never straight above or below).

    Returns:
        (N, 4, 4) c2w: columns x = right, y = down, z = forward, then the centre.
    """
    forward = target - eye
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    right = np.cross(forward, UP)
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    down = np.cross(forward, right)
    c2w = np.tile(np.eye(4), (len(eye), 1, 1))
    c2w[:, :3, :3] = np.stack([right, down, forward], axis=-1)
    c2w[:, :3, 3] = eye
    return c2w


def yaw_matrix(yaw: np.ndarray) -> np.ndarray:
    """(N,) angles about world z, radians -> (N, 3, 3) rotations."""
    cos, sin = np.cos(yaw), np.sin(yaw)
    rot = np.zeros(yaw.shape + (3, 3))
    rot[..., 0, 0], rot[..., 0, 1], rot[..., 1, 0], rot[..., 1, 1] = cos, -sin, sin, cos
    rot[..., 2, 2] = 1.0
    return rot


def camera_trajectory(rng: np.random.Generator, motion: CameraMotion, s: np.ndarray, *,
                      stage_centre: np.ndarray, distance: float, height: float) -> np.ndarray:
    """Camera poses looking at (or panning across) a stage.

    Args:
        rng: draws the start angle, sweep and jitter.
        motion: "orbit", "walk", "rotation" or "static".
        s: (N,) normalised times.
        stage_centre: (3,) world point the camera looks at.
        distance: horizontal distance from the stage centre to the camera, metres.
        height: camera height above the stage centre, metres.

    Returns:
        (N, 4, 4) c2w poses.
    """
    start = rng.uniform(0.0, 2 * np.pi)
    sweep = rng.choice([-1.0, 1.0]) * rng.uniform(0.35, 1.0)  # radians over the sequence
    jitter = rng.normal(size=(2, 3)) * 1e-3  # metres: near-static wobble amplitudes
    phase = rng.uniform(0.0, 2 * np.pi, size=3)
    target = np.tile(stage_centre, (len(s), 1))
    if motion == "orbit":
        angle = start + sweep * s
        eye = stage_centre + np.stack([distance * np.cos(angle), distance * np.sin(angle),
                                       height + 0.15 * np.sin(np.pi * s)], axis=-1)
    elif motion == "walk":
        radial = np.array([np.cos(start), np.sin(start), 0.0])
        side = np.cross(UP, radial)
        offset = (s - 0.5) * 2.0 * distance * np.tan(abs(sweep) / 2)
        eye = stage_centre + distance * radial + offset[:, None] * side + np.array([0.0, 0.0, height])
    else:
        eye = np.tile(stage_centre + np.array([distance * np.cos(start), distance * np.sin(start), height]),
                      (len(s), 1))
        if motion == "rotation":
            pan = yaw_matrix(0.5 * sweep * (s - 0.5))
            target = eye + ((stage_centre - eye[0]) @ pan.transpose(0, 2, 1))
        else:
            wobble = np.sin(2 * np.pi * s[:, None] + phase)
            eye = eye + wobble * jitter[0]
            target = target + wobble * jitter[1]
    return look_at(eye, target)


def object_trajectory(rng: np.random.Generator, s: np.ndarray, *, start: np.ndarray,
                      end: np.ndarray) -> np.ndarray:
    """A rigid object moving from `start` to `end` with a bounce and a turn, never at rest.

    The bounce speed stays below half the straight-line speed and the yaw rate is non-zero, so
    the object moves between any two distinct times.

    Args:
        rng: draws the bounce, the turn rate and the start heading.
        s: (N,) normalised times.
        start: (3,) world position at s = 0.
        end: (3,) world position at s = 1 (distinct from `start`).

    Returns:
        (N, 4, 4) object-to-world poses.
    """
    cycles = rng.uniform(0.5, 2.0)
    length = float(np.linalg.norm(end - start))
    bounce = rng.uniform(0.2, 0.45) * length / (2 * np.pi * cycles)  # peak speed < 0.5 * length
    position = start + s[:, None] * (end - start)
    position[:, 2] += bounce * np.abs(np.sin(np.pi * cycles * s))
    yaw = rng.uniform(0.0, 2 * np.pi) + rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2.5) * s
    o2w = np.tile(np.eye(4), (len(s), 1, 1))
    o2w[:, :3, :3] = yaw_matrix(yaw)
    o2w[:, :3, 3] = position
    return o2w
