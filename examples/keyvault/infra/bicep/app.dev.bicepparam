using './app.bicep'

// Badly kept: a literal for a @secure() parameter (KV001).
param appName = 'app-contoso-dev'
param databaseConnectionString = 'Server=tcp:sql-contoso-dev.database.windows.net;Database=app;User ID=app;Password=DevOnly-2024x;'
