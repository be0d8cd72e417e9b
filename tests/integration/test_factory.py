"""The factory builds independent studios, as the tests and workers need."""


def test_two_studios_in_one_process_keep_their_own_database(make_app):
    first, second = make_app(), make_app()

    for studio in (first, second):
        client = studio.test_client()
        assert client.get("/api/settings").status_code == 200
        assert client.get("/lab/").status_code == 200

    urls = []
    for studio in (first, second):
        with studio.app_context():
            urls.append(studio.extensions["sqlalchemy"].engine.url)
    assert urls[0] != urls[1]
