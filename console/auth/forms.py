"""Forms of the auth blueprint."""

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    """Email and password, with the page to return to."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class CodeForm(FlaskForm):
    """The second sign-in step: a code from the authenticator app, or a recovery code."""

    code = StringField(
        "Code",
        validators=[DataRequired(), Length(max=40)],
        description="The 6-digit code your authenticator app shows, or one of your recovery codes.",
    )


class EnableTwoFactorForm(FlaskForm):
    """Enrolment: the first code the app shows proves it holds the secret."""

    code = StringField("Code from the app", validators=[DataRequired(), Length(max=40)])


class DisableTwoFactorForm(FlaskForm):
    """Turning two-factor sign-in off takes the password and a current code."""

    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    code = StringField(
        "Code from the app or a recovery code", validators=[DataRequired(), Length(max=40)]
    )


class RecoveryCodesForm(FlaskForm):
    """New recovery codes replace the old ones after a current code."""

    code = StringField(
        "Code from the app or a recovery code", validators=[DataRequired(), Length(max=40)]
    )


class ResetTwoFactorForm(FlaskForm):
    """An admin's reset of another account's second factor: a POST with a CSRF token."""

    id = IntegerField(validators=[DataRequired()])


class LogoutForm(FlaskForm):
    """An empty form: logging out is a POST that carries a CSRF token."""


class SignOutEverywhereForm(FlaskForm):
    """An empty form: ending the other sessions is a POST with a CSRF token."""
