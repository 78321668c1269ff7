from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "cluster"


def test_cluster_is_reported():
    assert lint_one('CLUSTER "Post" USING "Post_pkey";', RULE).message == 'CLUSTER rewrites "Post" under an ACCESS EXCLUSIVE lock'
    assert "every clustered table" in lint_one("CLUSTER;", RULE).message


def test_cluster_of_a_new_table_passes():
    lint_ok('CREATE TABLE "Scratch" (id int PRIMARY KEY);\nCLUSTER "Scratch" USING "Scratch_pkey";', RULE)
