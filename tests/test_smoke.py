"""The console starts and answers on both databases."""


def test_home_requires_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/login" in response.location


def test_editor_sees_lists(editor_client, sample):
    response = editor_client.get("/admin/todolist/")
    assert response.status_code == 200
    assert "Groceries" in response.get_data(as_text=True)
