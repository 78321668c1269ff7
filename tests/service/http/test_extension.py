from service.http import DeployGate
from service.http.extension import deploy_gate


def test_deploy_gate_is_the_apps_own_extension(app, config):
    with app.app_context():
        extension = deploy_gate()
    assert isinstance(extension, DeployGate)
    assert extension is app.extensions["deploy_gate"]
    assert extension.config is config
