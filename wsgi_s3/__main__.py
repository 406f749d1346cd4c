from wsgi_s3.cli import main

main()
