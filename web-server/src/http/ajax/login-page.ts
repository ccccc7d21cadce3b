/** The page shown to a browser without a session. Clients look for the `<!-- /.login -->` marker. */
export const LOGIN_PAGE = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Caisson — log in</title></head>
<body>
<div class="login">
  <h1>Caisson</h1>
  <form id="login-form" method="post" action="/">
    <input type="hidden" name="action" value="login">
    <label>User name <input name="username" autocomplete="username"></label>
    <label>Password <input name="password" type="password" autocomplete="current-password"></label>
    <button type="submit">Log in</button>
  </form>
</div><!-- /.login -->
</body>
</html>
`;

export const HOME_PAGE = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Caisson</title></head>
<body><h1>Caisson</h1><p>You are logged in. The web UI arrives in a later release; the AJAX and REST APIs are available now.</p></body>
</html>
`;
