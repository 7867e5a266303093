"""Pure rules of the bureau: no storage, no aiogram, no clock reads."""
