"""aiogram routers, one per feature. Handlers only hand the update to ``bot.inbox.UpdateInbox`` (no logic here):
the dialog, buttons and manager actions are decided by the workers, the same way for the webhook and polling."""
