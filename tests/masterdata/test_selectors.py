"""F1.4: whose queue a material's missing-field ticket goes to, and whom the alert @-mentions."""

import pytest

from masterdata.models import MaterialOwner
from masterdata.selectors import Owner, material_owner_for

pytestmark = pytest.mark.django_db


def test_f1_4_owner_by_group_then_default_row_then_master_data_admins(make_integration):
    """GIVEN no owner rows THEN the master-data admins own every material; GIVEN a default row
    (blank group) and a row for group PB THEN PB materials go to PB's owner and any other
    group to the default."""
    from django.contrib.auth.models import User

    integration = make_integration()
    assert material_owner_for(integration_id=integration.pk, material_group="PB") == Owner(
        role="master_data_admin"
    )
    wang = User.objects.create_user("wang")
    MaterialOwner.objects.create(integration=integration, material_group="", owner_role="manager")
    MaterialOwner.objects.create(
        integration=integration, material_group="PB", owner_role="purchasing", owner_user=wang
    )

    assert material_owner_for(integration_id=integration.pk, material_group="PB") == Owner(
        role="purchasing", user_ids=(wang.pk,)
    )
    assert material_owner_for(integration_id=integration.pk, material_group="LAMP") == Owner(
        role="manager"
    )
