"""Project media over real HTTP: the browser's presigned POST to the moto server, then the
check, the listing and the download. The rest of media is in tests/api/test_media.py."""

import requests

from tests.api.test_media import WEBP, call, complete, go_live, new_campaign, requested

# --- the round trip against the emulator server, over real HTTP ------------------------------------


def test_round_trip_upload_complete_list_and_download_over_http(server_client):
    campaign_id = new_campaign(server_client)
    upload = requested(server_client, campaign_id, "image/webp")
    post = upload["upload"]

    sent = requests.post(post["url"], data=post["fields"], files={"file": ("atelier.webp", WEBP)}, timeout=10)
    assert sent.status_code == 204, sent.text
    status, campaign = complete(server_client, campaign_id, upload["id"])
    assert status == 200, campaign
    go_live(server_client, campaign_id)

    [shown] = call(server_client, "GET", f"/campaigns/{campaign_id}")[1]["media"]
    served = requests.get(shown["url"], timeout=10)
    assert served.status_code == 200
    assert served.content == WEBP
    assert served.headers["Content-Type"] == "image/webp"
