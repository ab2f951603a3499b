from celery import shared_task

from accounts import services


@shared_task(acks_late=True)
def send_invitation_task(user_id: int) -> bool:
    return services.send_invitation(user_id=user_id)
