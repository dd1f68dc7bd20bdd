"""`align3r run --videos LIST`: the list, its sharding over torchrun's ranks, and the batch job."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers.job_fixtures import FAST, job, oracle, sequence  # noqa: F401  (fixtures: written sequence, exact pairs)

from align3r.cli import main
from align3r.errors import InputError
from align3r.io.results import load_reconstruction
from align3r.io.trajectory import read_trajectory
from align3r.pipeline.batch import Shard, read_video_list


@pytest.fixture
def videos(job, tmp_path):  # noqa: F811
    """A list file of three image folders (copies of the job's sequence), one relative path."""
    for name in ("a", "b", "c"):
        shutil.copytree(job / "seq" / "rgb", tmp_path / name)
    listing = tmp_path / "videos.txt"
    listing.write_text(f"# three videos\n{tmp_path / 'a'}\n\nb\n  c  \n")
    return listing


def batch(job, listing, out, *extra):  # noqa: F811
    return main(["run", "--videos", str(listing), "-o", str(out), "--model", str(job / "model"),
                 "--prior", f"simulated:{job / 'seq'}", *FAST, *extra])


def test_list_reads_paths_names_and_skips_comments(videos):
    assert read_video_list(videos) == [(name, videos.parent / name) for name in "abc"]


@pytest.mark.parametrize("text,message", [
    ("a\nmissing.mp4\n", "line 2: missing.mp4: no such file or folder"),
    ("a\n# only a\n\n", None),
    ("# nothing\n", "lists no videos"),
])
def test_bad_list_names_the_line(videos, text, message):
    videos.write_text(text)
    if message is None:
        assert [name for name, _ in read_video_list(videos)] == ["a"]
        return
    with pytest.raises(InputError, match=message):
        read_video_list(videos)


def test_two_videos_that_would_share_a_folder_are_refused(videos, tmp_path):
    (tmp_path / "other").mkdir()
    shutil.copytree(tmp_path / "a", tmp_path / "other" / "a")
    videos.write_text("a\nother/a\n")
    with pytest.raises(InputError, match="lines 1 and 2: both would write to a/"):
        read_video_list(videos)


def test_shards_partition_the_list():
    items = list(range(11))
    shares = [Shard(r, 3).take(items) for r in range(3)]
    assert shares == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]
    assert Shard.from_env({"RANK": "2", "WORLD_SIZE": "3", "LOCAL_RANK": "0"}) == Shard(2, 3, 0)
    assert Shard.from_env({}) == Shard(0, 1, 0)
    with pytest.raises(InputError, match="RANK=3 is not in"):
        Shard.from_env({"RANK": "3", "WORLD_SIZE": "3"})


def test_each_rank_reconstructs_its_share(job, videos, tmp_path, monkeypatch, capsys):  # noqa: F811
    out = tmp_path / "out"
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        assert batch(job, videos, out) == 0
        assert f"rank {rank} of 2: {2 - rank} video(s) reconstructed, 0 already done, 0 failed" in capsys.readouterr().out
    single = tmp_path / "single"
    assert main(["run", str(job / "seq" / "rgb"), "-o", str(single), "--model", str(job / "model"),
                 "--prior", f"simulated:{job / 'seq'}", *FAST]) == 0
    reference = load_reconstruction(single)
    for name in "abc":
        rec = load_reconstruction(out / name)
        np.testing.assert_array_equal(rec.depths, reference.depths)
        np.testing.assert_array_equal(rec.poses_c2w, reference.poses_c2w)
    monkeypatch.setenv("RANK", "0")
    assert batch(job, videos, out) == 0  # a rerun skips what is done
    assert "0 video(s) reconstructed, 2 already done" in capsys.readouterr().out


def test_three_videos_load_the_network_and_the_prior_once(job, videos, tmp_path, monkeypatch, capsys):  # noqa: F811
    import align3r.pipeline.resources as resources

    loads = {"model": 0, "prior": 0}

    def counted(name, load):
        def load_and_count(*args, **kwargs):
            loads[name] += 1
            return load(*args, **kwargs)
        return load_and_count

    monkeypatch.setattr(resources, "load_model", counted("model", resources.load_model))
    monkeypatch.setattr(resources, "load_prior", counted("prior", resources.load_prior))
    assert batch(job, videos, tmp_path / "out") == 0
    assert "3 video(s) reconstructed" in capsys.readouterr().out
    assert loads == {"model": 1, "prior": 1}


def test_a_failing_video_is_reported_and_the_others_go_on(job, videos, tmp_path, capsys):  # noqa: F811
    (tmp_path / "b").joinpath("000000.png").write_bytes(b"not an image")
    assert batch(job, videos, tmp_path / "out", "--export", "tum") == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and f"{tmp_path / 'b'}: error:" in captured.err
    assert "2 video(s) reconstructed, 0 already done, 1 failed" in captured.out
    assert (tmp_path / "out" / "a" / "reconstruction.json").is_file() and not (tmp_path / "out" / "b").exists()
    for name in "ac":  # each finished video's own exports
        _, poses = read_trajectory(tmp_path / "out" / name / "exports" / "trajectory_tum.txt", fmt="tum")
        np.testing.assert_allclose(poses, load_reconstruction(tmp_path / "out" / name).poses_c2w, atol=1e-6)


@pytest.mark.parametrize("argv,message", [
    (["run", "-o", "OUT"], "give either INPUT or --videos LIST"),
    (["run", "x", "--videos", "LIST", "-o", "OUT"], "give either INPUT or --videos LIST"),
    (["run", "--videos", "LIST", "-o", "OUT"], "no such file"),
])
def test_bad_batch_input_is_one_line(tmp_path, capsys, argv, message):
    argv = [str(tmp_path / a) if a in ("OUT", "LIST") else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "OUT").exists()


def test_torchrun_two_processes_share_the_list(job, videos, tmp_path):  # noqa: F811
    """Two real torchrun ranks (CPU, the shipped tiny model for real: the random one of the fixture
    gives non-finite pairs): every video once, each rank its share, the same result on both."""
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "align3r", "run", "--videos", str(videos), "-o", str(out),
                           "--model", "tiny", "--prior", f"simulated:{job / 'seq'}", *FAST],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rank 0 of 2: 2 video(s) reconstructed" in done.stdout
    assert "rank 1 of 2: 1 video(s) reconstructed" in done.stdout
    a, b, c = (load_reconstruction(out / name) for name in "abc")  # a, c on rank 0; b on rank 1
    assert a.num_frames == 6 and np.isfinite(a.depths).all()
    for other in (b, c):
        np.testing.assert_array_equal(other.depths, a.depths)
        np.testing.assert_array_equal(other.poses_c2w, a.poses_c2w)


def test_an_unexpected_exception_of_one_video_is_one_line_and_the_others_go_on(job, videos, tmp_path, monkeypatch,
                                                                                capsys):  # noqa: F811
    import align3r.pipeline.job as job_module

    real = job_module.VideoFrames

    def decoder_breaks_on_b(source, selection):
        if str(source).endswith("b"):
            raise RuntimeError("decoder exploded\nwith a second line")
        return real(source, selection)

    monkeypatch.setattr(job_module, "VideoFrames", decoder_breaks_on_b)
    assert batch(job, videos, tmp_path / "out") == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "RuntimeError: decoder exploded (traceback in" in captured.err
    assert "Traceback" in (tmp_path / "out" / "b.error.log").read_text()
    assert "2 video(s) reconstructed, 0 already done, 1 failed" in captured.out
    assert all((tmp_path / "out" / name / "reconstruction.json").is_file() for name in "ac")

