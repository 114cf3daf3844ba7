"""Real Debian bookworm disk images built with debootstrap, cached, for boot and adaptation tests.

From a test (tests/ is on sys.path):      from oscorpus.corpus import corpus_image
    image = corpus_image("ext4-mbr-novirtio", tmp_path / "src.raw")
From a shell (the worktree root):          python -m tests.oscorpus build ext4-mbr-novirtio
"""
