"""Every console page in one language at a time, over real services and data.

A source, jobs in several states (Ready, Running/Syncing with progress, Stopped, InError with
an error event, Finished with an image), a refused action and a form with errors: each page
is rendered in zh-CN and in en. A zh-CN page fails when it shows an English sentence of the
console catalogue or of the domain's error texts; an en page fails on any Chinese character.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from console.conftest import csrf_of
from console.pagetext import CJK, english_in, english_sentences, shown_text
from console.world import World


def _pages(client: TestClient, world: World) -> dict[str, str]:
    paths = ["/sources", "/sources?q=nothing-matches", f"/sources/{world.source_id}",
             "/activation-codes", "/jobs", "/jobs?status=InError", "/images", "/regions",
             f"/jobs/new?source_id={world.source_id}", "/jobs/j-nosuchjob/log",
             "/preferences", "/sources?state=Bad", "/jobs?q=web&status=Running",
             "/transit-hosts", "/regions/new", "/regions/local/edit",
             f"/images/{world.image_id}/disks/7",
             *(f"/jobs/{j}/log" for j in world.job_ids)]
    pages = {p: client.get(p).text for p in paths}
    jobs_page = pages["/jobs"]
    refused = client.post("/jobs/actions", data={  # pausing a Ready job is refused
        "csrf_token": csrf_of(jobs_page), "one": f"pause:{world.job_ids[0]}"})
    pages["/jobs (refused pause)"] = refused.text
    form = client.get(f"/jobs/new?source_id={world.source_id}").text
    bad = client.post("/jobs/new", data={
        "csrf_token": csrf_of(form), "source_id": world.source_id, "region_id": "local",
        "name": "1bad", "system_disk_size": "0", "mode": "create-only",
        "bandwidth_limit": "-1", "compress_level": "11"})
    pages["/jobs/new (errors)"] = bad.text
    region_form = client.get("/regions/new").text
    pages["/regions/new (errors)"] = client.post("/regions/new", data={
        "csrf_token": csrf_of(region_form), "region_id": "Bad Id", "network_quota": "0",
        "reserved_slots": "x", "system_min_gib": "9", "system_max_gib": "1",
        "data_min_gib": "1", "data_max_gib": "2"}).text
    return pages


def test_chinese_pages_show_no_english_sentence(client: TestClient, world: World) -> None:
    sentences = english_sentences(world.domain_english)
    assert len(sentences) > 120
    found = {path: english_in(shown_text(html, "zh-CN"), sentences)
             for path, html in _pages(client, world).items()}
    assert {p: s for p, s in found.items() if s} == {}


def test_english_pages_show_no_chinese(client: TestClient, world: World) -> None:
    client.get("/lang/en")
    found = {path: CJK.findall(shown_text(html, "en"))
             for path, html in _pages(client, world).items()}
    assert {p: "".join(c) for p, c in found.items() if c} == {}


def test_the_check_catches_a_foreign_sentence() -> None:
    sentences = english_sentences(["The agent stopped sending heartbeats."])
    html = '<p lang="en">Not started</p><p>迁移源 The agent stopped sending heartbeats.</p>'
    assert english_in(shown_text(html, "zh-CN"), sentences) == [
        "The agent stopped sending heartbeats"]
    assert CJK.findall(shown_text('<a lang="zh-CN">中文</a><p title="状态">x</p>', "en")) == [
        "状", "态"]
