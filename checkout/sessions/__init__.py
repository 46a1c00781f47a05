"""The hosted checkout: sessions, the payment page (views, form, assets) and the card's
packaging for the vault (``transport.py``). It sits on billing and payments and hands the card
to the vault in-process."""
